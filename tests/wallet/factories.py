from datetime import timedelta

import factory
from django.contrib.auth.models import Group, Permission
from django.utils import timezone

from apps.accounts.models import User
from apps.gifts.services import gift_send
from apps.wallet.models import CashoutRequest, KycSubmission, PayoutDestination
from apps.wallet.roles import GROUP_PERMISSIONS
from apps.wallet.services import coins_grant
from tests.accounts.factories import UserFactory
from tests.gifts.factories import GiftFactory, LiveStreamFactory


def finance_group() -> Group:
    """The Finance group with the wallet permissions bootstrap_roles gives it."""
    group, _ = Group.objects.get_or_create(name="Finance")
    for perm in GROUP_PERMISSIONS["Finance"]:
        app_label, codename = perm.split(".")
        group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return group


def finance_user(**kwargs) -> User:
    """A staff member of the Finance group."""
    user = UserFactory(is_staff=True, **kwargs)
    user.groups.add(finance_group())
    return user


def fund(user: User, coins: int, *, by: User | None = None) -> None:
    """Give the user spendable coins through a real Finance grant (an issuance ledger entry)."""
    if by is None:
        by = User.objects.filter(groups__name="Finance").first() or finance_user()
    coins_grant(user=user, amount=coins, reason="test funds", granted_by=by)


def host_earns_from_a_gift(host: User, *, coins: int = 1_000) -> None:
    """A viewer sends `host`, live, one gift of `coins` (the host's share waits for the rollup)."""
    viewer = UserFactory()
    fund(viewer, coins)
    stream = LiveStreamFactory(host=host)
    gift_send(sender_id=viewer.pk, stream_id=stream.pk, gift_id=GiftFactory(coin_price=coins).pk, quantity=1)


class KycSubmissionFactory(factory.django.DjangoModelFactory):
    """An identity check, approved unless told otherwise (what a host has after Finance's review)."""

    class Meta:
        model = KycSubmission

    user = factory.SubFactory(UserFactory)
    legal_name = factory.Faker("name")
    document_type = KycSubmission.DocumentType.CITIZENSHIP
    document_number = factory.Sequence(lambda n: f"27-01-75-{n:05d}")
    date_of_birth = factory.LazyAttribute(lambda kyc: kyc.user.date_of_birth)
    id_image = factory.django.ImageField(filename="id.png", width=8, height=8)
    selfie = factory.django.ImageField(filename="selfie.png", width=8, height=8)
    status = KycSubmission.Status.APPROVED


class PayoutDestinationFactory(factory.django.DjangoModelFactory):
    """A confirmed eSewa destination (its confirmation credit paid and its code typed back)."""

    class Meta:
        model = PayoutDestination

    host = factory.SubFactory(UserFactory)
    rail = PayoutDestination.Rail.ESEWA
    account_id = factory.Sequence(lambda n: f"98{n:08d}")
    account_name = factory.Faker("name")
    status = PayoutDestination.Status.VERIFIED
    verify_amount_paisa = 123
    verify_code = "123456"


def payout_ready(host: User) -> int:
    """Give `host` an approved identity check and a confirmed destination (once); returns its id."""
    if not KycSubmission.objects.filter(user=host, status=KycSubmission.Status.APPROVED).exists():
        KycSubmissionFactory(user=host)
    destination = PayoutDestination.objects.filter(host=host, status=PayoutDestination.Status.VERIFIED).first()
    return (destination or PayoutDestinationFactory(host=host)).pk


def hold_period_over() -> None:
    """End the hold period of every waiting cash-out (as if CASHOUT_HOLD_HOURS had passed)."""
    past = timezone.now() - timedelta(seconds=1)
    CashoutRequest.objects.filter(status=CashoutRequest.Status.REQUESTED, payable_at__gt=past).update(payable_at=past)
