"""Serving gift recommendations: the five gifts to put first in a viewer's tray for a stream.

Serving loads the newest model once per process (apps.gifts.recommender.storage) and then needs
one query for the sender's history. New senders (no history) get the most popular gifts.
"""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Max, Min, Sum
from django.utils import timezone

from apps.gifts.models import GiftSend
from apps.gifts.recommender.model import TOP_K, Examples, GiftModel, context_row
from apps.gifts.recommender.storage import CACHE_SECONDS, POPULAR_CACHE_KEY, local_get, model_active
from apps.gifts.selectors import GiftInfo, gift_catalogue
from apps.og.selectors import user_can_send_og_gifts

HOST_POPULARITY_CACHE_KEY = "gifts:recommender:host-pop:{host_id}"


class StreamNow(Protocol):
    """What serving reads of the stream (a live stream from apps.live.selectors.stream_get)."""

    host_id: int
    current_viewers: int
    started_at: datetime | None


@dataclass(frozen=True)
class Recommendation:
    gifts: list[GiftInfo]
    source: str  # "model" or "popularity"
    model_version: str


def _host_senders(host_id: int) -> int:
    key = HOST_POPULARITY_CACHE_KEY.format(host_id=host_id)

    def load() -> int:
        value: int | None = cache.get(key)
        if value is None:
            since = timezone.now() - timedelta(days=settings.GIFT_RECOMMENDER_HISTORY_DAYS)
            qs = GiftSend.objects.filter(host_id=host_id, created_at__gte=since)
            value = qs.values("sender_id").distinct().count()
            cache.set(key, value, CACHE_SECONDS)
        return value

    return local_get(key, load)


def popular_gift_ids(model: GiftModel | None) -> list[int]:
    """Most sent gifts: the model's training counts, else the live history (cached), else tray order."""
    if model is not None and model.popular_ids:
        return model.popular_ids
    ids: list[int] | None = cache.get(POPULAR_CACHE_KEY)
    if ids is None:
        since = timezone.now() - timedelta(days=settings.GIFT_RECOMMENDER_HISTORY_DAYS)
        ids = list(
            GiftSend.objects.filter(created_at__gte=since)
            .values("gift_id")
            .annotate(n=Count("id"))
            .order_by("-n", "gift_id")
            .values_list("gift_id", flat=True)[:50]
        )
        cache.set(POPULAR_CACHE_KEY, ids, CACHE_SECONDS)
    return ids


def _top(ranked: list[GiftInfo], *, user_id: int) -> list[GiftInfo]:
    """The first TOP_K the user may send (OG-only gifts only for OG members, asked at most once)."""
    has_og: bool | None = None
    picked = []
    for gift in ranked:
        if gift.og_only:
            if has_og is None:
                has_og = user_can_send_og_gifts(user_id=user_id)
            if not has_og:
                continue
        picked.append(gift)
        if len(picked) == TOP_K:
            break
    return picked


def gift_recommendations(*, user_id: int, stream: StreamNow) -> Recommendation:
    """The five gifts this user is most likely to send in this stream, best first.

    One query for the sender's history; the catalogue, the model's version and the host's
    popularity come from the shared cache through a per-process copy refreshed every
    LOCAL_SECONDS (an admin's catalogue edit shows here that much later). Without history, or
    without a trained model, the most popular gifts.
    """
    catalogue = local_get("gifts:recommender:catalogue", gift_catalogue)
    model = model_active()
    version = model.version if model else ""
    since = timezone.now() - timedelta(days=settings.GIFT_RECOMMENDER_HISTORY_DAYS)
    per_gift = list(
        GiftSend.objects.filter(sender_id=user_id, created_at__gte=since)
        .values("gift_id")
        .annotate(n=Count("id"), coins=Sum("coins"), first=Min("created_at"), last=Max("created_at"))
    )
    if model is None or not per_gift or not catalogue:
        order = {gid: i for i, gid in enumerate(popular_gift_ids(model))}
        ranked = sorted(catalogue, key=lambda g: (order.get(g.id, len(order)), g.order, g.id))
        return Recommendation(gifts=_top(ranked, user_id=user_id), source="popularity", model_version=version)

    gift_ids = [g.id for g in catalogue]
    log_price = np.array([math.log(g.coin_price) for g in catalogue])
    position = {gid: i for i, gid in enumerate(gift_ids)}
    prices = {g.id: g.coin_price for g in catalogue}
    counts = np.zeros((1, len(gift_ids)), dtype=np.float32)
    sends = coins = 0
    sum_lp = sum_lp2 = 0.0
    for row in per_gift:
        if row["gift_id"] in position:
            counts[0, position[row["gift_id"]]] = row["n"]
        sends += row["n"]
        coins += row["coins"]
        lp = math.log(prices.get(row["gift_id"], max(row["coins"] // row["n"], 1)))
        sum_lp += row["n"] * lp
        sum_lp2 += row["n"] * lp * lp
    last = max(per_gift, key=lambda r: r["last"])
    first_at = min(r["first"] for r in per_gift)
    mean_lp = sum_lp / sends
    now = timezone.now()
    ex = Examples(
        counts=counts,
        last_gift=np.array([position.get(last["gift_id"], -1)]),
        mean_logp=np.array([mean_lp]),
        var_logp=np.array([max(sum_lp2 / sends - mean_lp**2, 0.0)]),
        context=np.array(
            [
                context_row(
                    sends=sends,
                    coins=coins,
                    first_at=first_at,
                    last_at=last["last"],
                    at=now,
                    viewers=stream.current_viewers,
                    started_at=stream.started_at,
                    host_senders=_host_senders(stream.host_id),
                )
            ]
        ),
    )
    scores = model.scores(ex, gift_ids=gift_ids, log_price=log_price)[0]
    ranked = [catalogue[i] for i in np.argsort(-scores, kind="stable")]
    return Recommendation(gifts=_top(ranked, user_id=user_id), source="model", model_version=version)
