"""Fraud tests build their facts through the real services: gifts through gift_send, top-ups through
payment_create and payment_verify with the gateway's status API (the outside world) answering."""

import uuid

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, Permission

from apps.accounts.models import User
from apps.fraud.roles import GROUP_PERMISSIONS as FRAUD_PERMISSIONS
from apps.gifts.models import Gift
from apps.gifts.services import gift_catalogue_invalidate, gift_send
from apps.live.models import Stream
from apps.payments import gateways
from apps.payments.gateways import GatewayAnswer, State
from apps.payments.models import Payment
from apps.payments.roles import GROUP_PERMISSIONS as PAYMENT_PERMISSIONS
from apps.payments.services import payment_create, payment_verify
from tests.gifts.factories import GiftFactory, LiveStreamFactory
from tests.payments.factories import CoinPackageFactory
from tests.wallet.factories import finance_group
from tests.wallet.factories import finance_user as wallet_finance_user


def finance_user(**kwargs) -> User:
    """A Finance staff member with the payments and fraud permissions bootstrap_roles gives Finance."""
    user = wallet_finance_user(**kwargs)
    group: Group = finance_group()
    for perm in [*PAYMENT_PERMISSIONS["Finance"], *FRAUD_PERMISSIONS["Finance"]]:
        app_label, codename = perm.split(".")
        group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return User.objects.get(pk=user.pk)  # fresh: no cached permissions


def gift(sender: User, host: User, coins: int) -> None:
    """`sender` sends `host`, live, one gift of `coins`."""
    stream = Stream.objects.filter(host=host, status=Stream.Status.LIVE).first() or LiveStreamFactory(host=host)
    item = Gift.objects.filter(coin_price=coins, is_active=True).first()
    if item is None:
        item = GiftFactory(coin_price=coins)
        gift_catalogue_invalidate()  # the catalogue may be cached from an earlier send
    gift_send(sender_id=sender.pk, stream_id=stream.pk, gift_id=item.pk, quantity=1)


def answering(monkeypatch: pytest.MonkeyPatch, state: State, *, raw: str = "") -> None:
    """The gateway's status API answers `state` for every payment (for the exact amount)."""

    def status(*, payment: Payment) -> GatewayAnswer:
        return GatewayAnswer(
            state=state, raw_status=raw or str(state), amount_paisa=payment.amount_paisa, txn_id=f"T-{payment.pk}"
        )

    monkeypatch.setattr(gateways, "gateway_status", status)


def top_up(monkeypatch: pytest.MonkeyPatch, user: User, coins: int) -> Payment:
    """`user` buys `coins` through eSewa: the payment is created, the gateway says COMPLETE, coins are credited."""
    monkeypatch.setattr(settings, "ESEWA_PRODUCT_CODE", "EPAYTEST")
    monkeypatch.setattr(settings, "ESEWA_SECRET_KEY", "8gBm/:&EnhH.1/q")
    package = CoinPackageFactory(coins=coins, bonus_coins=0, price_paisa=coins * 100)
    payment, _ = payment_create(
        user=user, package=package, gateway="esewa", idempotency_key=str(uuid.uuid4()), fingerprint="f" * 64
    )
    answering(monkeypatch, State.COMPLETE, raw="COMPLETE")
    assert payment_verify(payment_id=payment.pk).after == Payment.Status.COMPLETED
    return Payment.objects.get(pk=payment.pk)


def refund_after_spending(monkeypatch: pytest.MonkeyPatch, payment: Payment) -> Payment:
    """The gateway now reports the payment fully refunded; its payer had spent the coins."""
    answering(monkeypatch, State.REFUNDED, raw="FULL_REFUND")
    outcome = payment_verify(payment_id=payment.pk)
    assert outcome.after == Payment.Status.NEEDS_REVIEW, outcome
    return Payment.objects.get(pk=payment.pk)
