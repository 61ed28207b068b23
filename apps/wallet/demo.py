from collections.abc import Callable

from apps.accounts.models import User
from apps.wallet.models import CoinGrant
from apps.wallet.services import coins_grant

DEMO_GRANTS = {"viewer": 50_000, "viewer2": 20_000, "host": 5_000, "host2": 5_000}


def seed(*, out: Callable[[str], None]) -> None:
    admin = User.objects.get(username="admin")
    for username, coins in DEMO_GRANTS.items():
        user = User.objects.get(username=username)
        if not CoinGrant.objects.filter(user=user, reason="demo coins").exists():
            coins_grant(user=user, amount=coins, reason="demo coins", granted_by=admin)
    out("Demo coins: " + ", ".join(f"{u} {c}" for u, c in DEMO_GRANTS.items()))
