from django.contrib.auth.models import Group, Permission

from apps.accounts.models import User
from apps.gifts.services import gift_send
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
