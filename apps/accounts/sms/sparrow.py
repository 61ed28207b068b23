"""Sparrow SMS (Nepal), outgoing messages over its HTTP API v2.

Protocol facts relied on (Sparrow SMS API documentation, "Send SMS / Outgoing", github.com/sparrowsms/apidocs
docs/outgoing_sendsms.md):

- Endpoint `<base>/sms/` with base `https://api.sparrowsms.com/v2/`; GET or POST, we POST form-encoded.
- Mandatory fields: `token` (generated on Sparrow's dashboard), `from` (the sender identity Sparrow
  assigned), `to` (comma-separated 10-digit Nepali mobile numbers, no country code), `text`.
- Success: HTTP 200, JSON `{"count": <n>, "response_code": 200, "response": "<n> mesages has been
  queued for delivery"}` (sic).
- Refusal: HTTP 403, JSON `{"response_code": <1000..1013>, "response": "<reason>"}`: 1000 a required
  field is missing, 1001 invalid IP address, 1002 invalid token, 1003/1004 account inactive,
  1005/1006 account expired, 1007 invalid receiver, 1008 invalid sender, 1010 text cannot be empty,
  1011 no valid receiver, 1012 no credits available, 1013 insufficient credits.

Every documented response_code is a refusal that sending again cannot change (our configuration, the
receiver, or credits that only a top-up brings back): SmsRejected, never retried. Anything else
(timeouts, connection errors, 5xx, a body that is not that JSON) counts as the provider being
unavailable for a while: SmsUnavailable, which the sending task (apps.accounts.tasks) retries with
backoff. No retry here: one call is one attempt.
"""

import logging

import phonenumbers
import requests

from apps.accounts.exceptions import SmsRejected, SmsUnavailable

logger = logging.getLogger(__name__)

NEPAL_COUNTRY_CODE = 977


def national_number(e164: str) -> str:
    """The 10-digit national form Sparrow's `to` takes (+9779801234567 -> 9801234567)."""
    number = phonenumbers.parse(e164, None)
    if number.country_code != NEPAL_COUNTRY_CODE:
        raise SmsRejected(details={"reason": "not_nepal"})
    return str(number.national_number)


class SparrowSms:
    def __init__(self, *, base_url: str, token: str, sender: str, timeout: float) -> None:
        self.url = base_url.rstrip("/") + "/sms/"
        self.token = token
        self.sender = sender
        self.timeout = timeout

    def reachable_check(self, *, to: str) -> None:
        national_number(to)  # Sparrow texts Nepali numbers only

    def send(self, *, to: str, text: str) -> None:
        if not self.token:
            logger.error("SPARROW_SMS_TOKEN is not set: no SMS can be sent")
            raise SmsUnavailable()
        fields = {"token": self.token, "from": self.sender, "to": national_number(to), "text": text}
        try:
            response = requests.post(self.url, data=fields, timeout=(min(3.05, self.timeout), self.timeout))
        except requests.RequestException as exc:
            logger.warning("sparrow sms unreachable", extra={"error": type(exc).__name__})
            raise SmsUnavailable() from None
        try:
            body = response.json()
        except ValueError:
            body = None
        code = body.get("response_code") if isinstance(body, dict) else None
        if response.status_code == 200 and code == 200:
            return
        if response.status_code == 403 and isinstance(code, int):
            # Our configuration (1001-1008, 1012, 1013) or the receiver (1007, 1011): logged for ops.
            logger.error("sparrow sms refused a message", extra={"response_code": code})
            raise SmsRejected(details={"provider_code": code})
        logger.warning("sparrow sms answered unexpectedly", extra={"status": response.status_code})
        raise SmsUnavailable()
