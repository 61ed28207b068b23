"""Synthetic gift history with realistic structure, for the demo and for evaluating the recommender.

Who sends what is driven by hidden preferences the recommender has to discover:
- each fan has a budget (a preferred price level, log-normal across fans) and a spread around it;
- two favourite gifts near that budget, and a favourite category;
- an activity level (heavy-tailed: a few fans send most gifts) and three favourite hosts;
- bigger rooms and later moments of a stream pull fans towards dearer gifts (some fans more).
Hosts have Zipf-like popularity, which sets their rooms' viewer counts.

Everything goes through the real services: coins are granted with `coins_grant` (so the ledger
stays sound and `wallet_audit` passes), hosts go live with `stream_go_live`, viewer counts are set
with `stream_stats_update` and every gift is sent with `gift_send`. Only the timestamps are
synthetic: after each session its stream (`stream_backdate`, which exists for this) and its sends
are moved back to their simulated time.
"""

import math
import random
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.gifts.models import GiftSend
from apps.gifts.selectors import GiftInfo, gift_catalogue
from apps.gifts.services import gift_send, leaderboard_rebuild
from apps.live.services import stream_backdate, stream_end, stream_go_live, stream_stats_update
from apps.wallet.services import coins_grant

HOST_PREFIX = "synth_host_"
FAN_PREFIX = "synth_fan_"
GRANT_REASON = "synthetic gift history"


@dataclass
class _Fan:
    user: User
    budget: float  # preferred log price
    spread: float
    favourites: set[int]
    category: str
    activity: float
    hosts: list[int]
    room_boost: float  # how much a big room raises the price they pick


@dataclass
class _Session:
    host: User
    start: datetime
    minutes: int
    viewers: int
    sends: list[tuple[datetime, _Fan, GiftInfo]] = field(default_factory=list)


@dataclass(frozen=True)
class HistoryStats:
    fans: int
    hosts: int
    sessions: int
    sends: int
    coins: int


def _users(prefix: str, count: int, *, phone_prefix: str = "") -> list[User]:
    """Synthetic people; with `phone_prefix`, each gets a verified phone (hosts: going live needs one)."""
    users = []
    for i in range(1, count + 1):
        user, created = User.objects.get_or_create(
            username=f"{prefix}{i:03d}",
            defaults={
                "display_name": f"{prefix.removeprefix('synth_').rstrip('_').title()} {i}",
                "date_of_birth": date(1980, 1, 1) + timedelta(days=(97 * i) % 7000),
                "age_verification": User.AgeVerification.VERIFIED,
            },
        )
        if created:
            user.set_unusable_password()  # synthetic people never sign in
            if phone_prefix:
                user.phone, user.phone_verified_at = f"{phone_prefix}{i:04d}", timezone.now()
            user.save(update_fields=["password", "phone", "phone_verified_at"])
        users.append(user)
    return users


def _choose_gift(rng: random.Random, fan: _Fan, gifts: list[GiftInfo], *, room_z: float, late: bool) -> GiftInfo:
    target = fan.budget + fan.room_boost * room_z + (0.35 if late else 0.0)
    utilities = []
    for gift in gifts:
        gap = math.log(gift.coin_price) - target
        u = -(gap * gap) / (2 * fan.spread * fan.spread)
        u += 2.2 if gift.id in fan.favourites else 0.0
        u += 0.8 if gift.category == fan.category else 0.0
        utilities.append(u)
    top = max(utilities)
    weights = [math.exp(u - top) for u in utilities]
    return rng.choices(gifts, weights=weights)[0]


@transaction.atomic
def gift_history_generate(
    *,
    fans: int = 80,
    hosts: int = 8,
    days: int = 40,
    sends: int = 4000,
    seed: int = 7,
    granted_by: User,
    out: Callable[[str], None] = lambda _: None,
) -> HistoryStats:
    """Create `sends` gift sends over the last `days` days between synthetic fans and hosts.

    One transaction: a failure part-way leaves nothing behind (no granted coins without their sends).
    """
    rng = random.Random(seed)
    gifts = [g for g in gift_catalogue() if not g.og_only]
    if len(gifts) < 6:
        raise ValueError("The gift catalogue needs at least 6 gifts open to everyone (run seed_demo).")
    log_prices = sorted(math.log(g.coin_price) for g in gifts)
    low, high = log_prices[0], log_prices[-1]
    host_users = _users(HOST_PREFIX, hosts, phone_prefix="+977981000")
    fan_users = _users(FAN_PREFIX, fans)
    categories = sorted({g.category for g in gifts})

    popularity = {h.pk: 1.0 / (rank + 1) ** 0.9 for rank, h in enumerate(host_users)}
    fan_profiles = []
    for user in fan_users:
        budget = min(max(rng.gauss(math.log(25), 1.3), low), high)
        near = sorted(gifts, key=lambda g: abs(math.log(g.coin_price) - budget) + rng.random() * 1.2)
        fan_profiles.append(
            _Fan(
                user=user,
                budget=budget,
                spread=rng.uniform(0.45, 0.9),
                favourites={near[0].id, near[1].id},
                category=rng.choice(categories),
                activity=rng.lognormvariate(0, 1.0),
                hosts=rng.sample([h.pk for h in host_users], k=min(3, len(host_users))),
                room_boost=rng.uniform(0.0, 0.6),
            )
        )

    now = timezone.now().replace(microsecond=0)
    sessions: list[_Session] = []
    for day in range(days, 0, -1):
        for host in host_users:
            if rng.random() < 0.55:
                start = now - timedelta(days=day) + timedelta(hours=rng.uniform(10, 20))
                viewers = max(3, int(popularity[host.pk] * rng.lognormvariate(math.log(400), 0.5)))
                sessions.append(_Session(host=host, start=start, minutes=rng.randint(45, 180), viewers=viewers))
    sessions.sort(key=lambda s: s.start)
    log_viewers = [math.log1p(s.viewers) for s in sessions]
    mean_v = sum(log_viewers) / len(log_viewers)
    sd_v = math.sqrt(sum((v - mean_v) ** 2 for v in log_viewers) / len(log_viewers)) or 1.0

    session_weights = [s.viewers for s in sessions]
    cost: dict[int, int] = defaultdict(int)
    for _ in range(sends):
        session = rng.choices(sessions, weights=session_weights)[0]
        weights = [f.activity * (6.0 if session.host.pk in f.hosts else 1.0) for f in fan_profiles]
        fan = rng.choices(fan_profiles, weights=weights)[0]
        offset = rng.uniform(0, session.minutes)
        gift = _choose_gift(
            rng,
            fan,
            gifts,
            room_z=(math.log1p(session.viewers) - mean_v) / sd_v,
            late=offset > 60,
        )
        session.sends.append((session.start + timedelta(minutes=offset), fan, gift))
        cost[fan.user.pk] += gift.coin_price

    for fan in fan_profiles:
        if cost[fan.user.pk]:
            coins_grant(user=fan.user, amount=cost[fan.user.pk], reason=GRANT_REASON, granted_by=granted_by)

    total_coins = 0
    sent = 0
    for session in sessions:
        if not session.sends:
            continue
        session.sends.sort(key=lambda s: s[0])
        with transaction.atomic():  # a savepoint per session
            stream = stream_go_live(host=session.host, title=f"{session.host.name} live")
            stream_stats_update(stream_id=stream.pk, viewers=session.viewers)
            ids = []
            for at, fan, gift in session.sends:
                result = gift_send(
                    sender_id=fan.user.pk,
                    stream_id=stream.pk,
                    gift_id=gift.id,
                    quantity=1,
                    ref=f"synth:{uuid.uuid4().hex}",
                    confirm=True,  # a synthetic fan stands for someone who confirms a large gift
                )
                ids.append((result.send.pk, at))
                total_coins += gift.coin_price
            stream_end(stream_id=stream.pk, reason="synthetic session over")
            # Move the session to its simulated time (see the module docstring).
            end = session.start + timedelta(minutes=session.minutes)
            stream_backdate(stream_id=stream.pk, started_at=session.start, ended_at=end)
            for send_id, at in ids:
                GiftSend.objects.filter(pk=send_id).update(created_at=at)
        sent += len(session.sends)
    if settings.GIFT_LEADERBOARD_BACKEND == "redis":
        # The sends were counted in today's boards when they committed; recount them at their real times.
        leaderboard_rebuild()
    out(f"Synthetic gift history: {sent} sends by {fans} fans to {hosts} hosts in {len(sessions)} sessions.")
    return HistoryStats(fans=fans, hosts=hosts, sessions=len(sessions), sends=sent, coins=total_coins)


def gift_history_exists() -> bool:
    return GiftSend.objects.filter(sender__username__startswith=FAN_PREFIX).exists()
