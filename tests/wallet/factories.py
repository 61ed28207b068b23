import io

from django.contrib.auth.models import Group
from django.core.management import call_command

from apps.accounts.models import User
from apps.wallet.services import coins_grant
from tests.accounts.factories import UserFactory


def finance_user(**kwargs) -> User:
    """A staff member of the Finance group (groups and permissions as bootstrap_roles makes them)."""
    call_command("bootstrap_roles", stdout=io.StringIO())
    user = UserFactory(is_staff=True, **kwargs)
    user.groups.add(Group.objects.get(name="Finance"))
    return user


def fund(user: User, coins: int, *, by: User | None = None) -> None:
    """Give the user spendable coins through a real Finance grant (an issuance ledger entry)."""
    if by is None:
        by = User.objects.filter(groups__name="Finance").first() or finance_user()
    coins_grant(user=user, amount=coins, reason="test funds", granted_by=by)
