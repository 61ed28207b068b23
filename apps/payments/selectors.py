"""Reads of the payments app."""

from datetime import date, datetime
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncDate

from apps.accounts.models import User
from apps.payments import gateways
from apps.payments.links import esewa_callback_urls, esewa_handoff_url
from apps.payments.models import CoinPackage, Gateway, Payment


def package_list() -> QuerySet[CoinPackage]:
    return CoinPackage.objects.filter(active=True).order_by("order", "price_paisa", "id")


def payment_list(*, user: User) -> QuerySet[Payment]:
    return Payment.objects.filter(user=user)


def payment_get(*, user: User, payment_id: int) -> Payment | None:
    """The user's own payment; another user's is indistinguishable from a missing one."""
    return Payment.objects.filter(pk=payment_id, user=user).first()


def payment_checkout(*, payment: Payment) -> dict[str, Any] | None:
    """What the app needs to send the payer to the gateway, while the attempt is still open."""
    if payment.status != Payment.Status.INITIATED:
        return None
    if payment.gateway == Gateway.ESEWA:
        success_url, failure_url = esewa_callback_urls(payment=payment)
        form_url, fields = gateways.esewa_form(payment=payment, success_url=success_url, failure_url=failure_url)
        return {
            "type": "esewa_form",
            "form_url": form_url,
            "fields": fields,
            "handoff_url": esewa_handoff_url(payment=payment),
        }
    if not payment.checkout_url:
        return None
    return {"type": "khalti_redirect", "payment_url": payment.checkout_url, "pidx": payment.gateway_ref}


def payment_by_ref(*, merchant_ref: str) -> Payment | None:
    return Payment.objects.filter(merchant_ref=merchant_ref).first()


def review_queue() -> QuerySet[Payment]:
    return Payment.objects.filter(status=Payment.Status.NEEDS_REVIEW)


def daily_totals(*, since: date | None = None) -> list[dict[str, Any]]:
    """Per day and gateway: attempts, completed count, paisa received and coins credited."""
    completed = Q(status=Payment.Status.COMPLETED)
    qs = Payment.objects.all()
    if since is not None:
        qs = qs.filter(created_at__date__gte=since)
    return list(
        qs.annotate(day=TruncDate("created_at"))
        .values("day", "gateway")
        .annotate(
            attempts=Count("id"),
            completed=Count("id", filter=completed),
            refunded=Count("id", filter=Q(status=Payment.Status.REFUNDED)),
            needs_review=Count("id", filter=Q(status=Payment.Status.NEEDS_REVIEW)),
            paisa=Sum("amount_paisa", filter=completed),
            coins=Sum("coins", filter=completed),
            bonus_coins=Sum("bonus_coins", filter=completed),
        )
        .order_by("-day", "gateway")
    )


def topups_completed(*, since: datetime, until: datetime) -> list[tuple[int, int, int, int, datetime]]:
    """Credited top-ups completed in [since, until): (payment id, user id, coins with bonus, paisa, completed at)."""
    rows = (
        Payment.objects.filter(credit_entry__isnull=False, completed_at__gte=since, completed_at__lt=until)
        .order_by("completed_at", "pk")
        .values_list("pk", "user_id", "coins", "bonus_coins", "amount_paisa", "completed_at")
    )
    return [(pk, user_id, coins + bonus, paisa, at) for pk, user_id, coins, bonus, paisa, at in rows if at is not None]
