"""Text messages to phones: one small interface (`sms_send`) in front of the provider.

The provider is Sparrow SMS (apps.accounts.sms.sparrow), reached through its documented HTTP API;
with SMS_SANDBOX_ENABLED (the embedded default) it points at the built-in offline sandbox
(apps.accounts.sms.sandbox) under SITE_URL/sandbox/sparrow/, which speaks the same protocol and
shows what it "delivered" at /sandbox/sparrow/outbox/. Sending is slow I/O: callers hold no
transaction or row lock while sending.
"""

from typing import Protocol

from django.conf import settings

from apps.accounts.sms import sparrow


class SmsProvider(Protocol):
    def send(self, *, to: str, text: str) -> None:
        """Hand one message for the E.164 number `to` to the provider, or raise SmsRejected /
        SmsUnavailable (apps.accounts.exceptions)."""

    def reachable_check(self, *, to: str) -> None:
        """Raise SmsRejected for a number the provider cannot text at all (checked before queueing)."""


def sms_provider() -> SmsProvider:
    """The configured provider (settings read per call, so tests can point it elsewhere)."""
    return sparrow.SparrowSms(
        base_url=settings.SPARROW_SMS_BASE_URL,
        token=settings.SPARROW_SMS_TOKEN,
        sender=settings.SPARROW_SMS_FROM,
        timeout=settings.SMS_TIMEOUT_SECONDS,
    )


def sms_send(*, to: str, text: str) -> None:
    sms_provider().send(to=to, text=text)


def sms_reachable_check(*, to: str) -> None:
    """SmsRejected at once for a number no message could reach (e.g. an old foreign phone asked to
    confirm a change), instead of queueing a text that would only be refused."""
    sms_provider().reachable_check(to=to)
