// Flagged frames are blurred until a moderator clicks them (a file, not an onclick attribute: the CSP allows none).
for (const image of document.querySelectorAll("img[data-unblur]")) {
  image.addEventListener("click", () => { image.style.filter = "none"; });
}
