"""Absolute URLs of our payment pages (callbacks, hand-off), built from SITE_URL."""

from django.conf import settings
from django.urls import reverse

from apps.payments.models import Payment


def site_url(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def esewa_callback_urls(*, payment: Payment) -> tuple[str, str]:
    success = site_url(reverse("payments-esewa-success"))
    # eSewa's failure redirect carries no signed data: our ref in the URL says which attempt it was.
    failure = site_url(reverse("payments-esewa-failure")) + f"?ref={payment.merchant_ref}"
    return success, failure


def esewa_handoff_url(*, payment: Payment) -> str:
    return site_url(reverse("payments-esewa-handoff", args=[payment.merchant_ref]))


def khalti_return_url() -> str:
    return site_url(reverse("payments-khalti-return"))
