// Sends the hidden checkout form to eSewa at once (a file, not an inline script: the CSP allows none).
document.getElementById("esewa-form").submit();
