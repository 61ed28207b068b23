"""Training and evaluating the gift recommender on the gift history.

Training replays the history in time order, so every example sees only what was known before it
was sent (no leakage), fits the model (apps.gifts.recommender.model) and stores it as a new
version (apps.gifts.recommender.storage).
"""

import logging
import math
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
from django.conf import settings
from django.utils import timezone

from apps.gifts.models import Gift, GiftSend
from apps.gifts.recommender.model import (
    CONTEXT,
    TOP_K,
    Examples,
    GiftModel,
    History,
    context_row,
    examples_subset,
    model_fit,
)
from apps.gifts.recommender.storage import model_store
from apps.live.selectors import stream_figures

logger = logging.getLogger(__name__)


# --- Replaying history ----------------------------------------------------------------------------


@dataclass
class _SenderState:
    counts: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    sends: int = 0
    coins: int = 0
    first_at: datetime | None = None
    last_at: datetime | None = None
    last_gift: int | None = None
    sum_logp: float = 0.0
    sum_logp2: float = 0.0


def history_replay(*, since: datetime | None = None, until: datetime | None = None) -> History:
    """Replay the sends of [since, until) and build one example per send from what came before it."""
    qs = GiftSend.objects.order_by("created_at", "id")
    if since is not None:
        qs = qs.filter(created_at__gte=since)
    if until is not None:
        qs = qs.filter(created_at__lt=until)
    rows = list(qs.values_list("sender_id", "host_id", "stream_id", "gift_id", "coins", "created_at"))
    gifts = dict(Gift.objects.values_list("pk", "coin_price"))
    gift_ids = sorted(gifts)
    index = {gid: i for i, gid in enumerate(gift_ids)}
    log_price = np.array([math.log(gifts[g]) for g in gift_ids], dtype=np.float64)
    streams = stream_figures(stream_ids={r[2] for r in rows})
    n, k = len(rows), len(gift_ids)
    counts = np.zeros((n, k), dtype=np.float32)
    last_gift = np.full(n, -1, dtype=np.int64)
    mean_logp = np.zeros(n)
    var_logp = np.zeros(n)
    context = np.zeros((n, len(CONTEXT)))
    chosen = np.zeros(n, dtype=np.int64)
    had_history = np.zeros(n, dtype=bool)
    senders: dict[int, _SenderState] = defaultdict(_SenderState)
    host_senders: dict[int, set[int]] = defaultdict(set)
    for i, (sender_id, host_id, stream_id, gift_id, coins, at) in enumerate(rows):
        state = senders[sender_id]
        for gid, c in state.counts.items():
            counts[i, index[gid]] = c
        if state.sends:
            assert state.last_gift is not None  # set by every send
            had_history[i] = True
            last_gift[i] = index[state.last_gift]
            mean_logp[i] = state.sum_logp / state.sends
            var_logp[i] = max(state.sum_logp2 / state.sends - mean_logp[i] ** 2, 0.0)
        viewers, started = streams.get(stream_id, (0, None))
        context[i] = context_row(
            sends=state.sends,
            coins=state.coins,
            first_at=state.first_at,
            last_at=state.last_at,
            at=at,
            viewers=viewers,
            started_at=started,
            host_senders=len(host_senders[host_id]),
        )
        chosen[i] = index[gift_id]
        # then learn from this send
        lp = log_price[index[gift_id]]
        state.counts[gift_id] += 1
        state.sends += 1
        state.coins += coins
        state.first_at = state.first_at or at
        state.last_at = at
        state.last_gift = gift_id
        state.sum_logp += lp
        state.sum_logp2 += lp * lp
        host_senders[host_id].add(sender_id)
    return History(
        gift_ids=gift_ids,
        log_price=log_price,
        examples=Examples(counts, last_gift, mean_logp, var_logp, context),
        chosen=chosen,
        at=[r[5] for r in rows],
        sender_ids=np.array([r[0] for r in rows], dtype=np.int64),
        had_history=had_history,
    )


# --- Training and evaluation ------------------------------------------------------------------------


def recommender_train() -> GiftModel | None:
    """Fit on the last GIFT_RECOMMENDER_HISTORY_DAYS of sends and store a new version (None: no sends)."""
    started = time.monotonic()
    since = timezone.now() - timedelta(days=settings.GIFT_RECOMMENDER_HISTORY_DAYS)
    history = history_replay(since=since)
    if not len(history.chosen):
        logger.info("gift recommender not trained: no sends")
        return None
    model = model_fit(
        history,
        np.ones(len(history.chosen), dtype=bool),
        max_examples=settings.GIFT_RECOMMENDER_MAX_EXAMPLES,
        now=timezone.now(),
    )
    model_store(model)
    logger.info(
        "gift recommender trained",
        extra={"version": model.version, "examples": model.examples, "seconds": round(time.monotonic() - started, 2)},
    )
    return model


@dataclass(frozen=True)
class Evaluation:
    train_sends: int
    test_sends: int
    split_at: datetime | None
    model_hit_rate: float
    baseline_hit_rate: float
    returning_test_sends: int
    model_hit_rate_returning: float
    baseline_hit_rate_returning: float


def recommender_evaluate(*, test_share: float = 0.2, since: datetime | None = None) -> Evaluation:
    """Hit-rate@5 on the latest `test_share` of sends (a time split) for the model and for popularity.

    The model is fitted on the sends before the split. Held-out sends are scored as serving would
    score them: from everything sent before each of them (the history a live request reads), with
    new senders falling back to popularity. The baseline recommends the five most sent gifts of the
    training period to everyone.
    """
    history = history_replay(since=since)
    n = len(history.chosen)
    if n < 10:
        raise ValueError("Not enough gift history to evaluate (need at least 10 sends).")
    cut = int(n * (1 - test_share))
    split_at = history.at[cut]
    train = np.array([at < split_at for at in history.at])
    test = ~train
    model = model_fit(history, train, max_examples=settings.GIFT_RECOMMENDER_MAX_EXAMPLES, now=timezone.now())

    test_idx = np.flatnonzero(test)
    ex = examples_subset(history.examples, test)
    scores = model.scores(ex, gift_ids=history.gift_ids, log_price=history.log_price)
    top_model = np.argsort(-scores, axis=1, kind="stable")[:, :TOP_K]
    position = {g: i for i, g in enumerate(history.gift_ids)}
    popular = np.array([position[g] for g in model.popular_ids[:TOP_K]])
    returning = history.had_history[test_idx]
    top_model[~returning] = popular  # serving's cold start
    chosen = history.chosen[test_idx]
    hit_model = (top_model == chosen[:, None]).any(axis=1)
    hit_base = np.isin(chosen, popular)
    return Evaluation(
        train_sends=int(train.sum()),
        test_sends=len(test_idx),
        split_at=split_at,
        model_hit_rate=float(hit_model.mean()),
        baseline_hit_rate=float(hit_base.mean()),
        returning_test_sends=int(returning.sum()),
        model_hit_rate_returning=float(hit_model[returning].mean()) if returning.any() else 0.0,
        baseline_hit_rate_returning=float(hit_base[returning].mean()) if returning.any() else 0.0,
    )
