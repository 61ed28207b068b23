"""An offline stand-in for FCM HTTP v1: the OAuth2 token endpoint (JWT bearer grant) and
messages:send, with per-token scenarios for FCM's errors, and a page listing what it received.
Mounted at /sandbox/fcm/ while FCM_SANDBOX_ENABLED (the embedded default, tests, the demo)."""
