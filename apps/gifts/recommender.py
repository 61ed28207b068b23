"""Gift recommendations: which five gifts to put first in a viewer's tray for this stream.

The model is a conditional logit (a softmax over the catalogue) fitted with numpy: each candidate
gift gets a score w·x(sender, stream, gift) and the tray shows the five highest. The features are
what the seed names — the sender's average spend, sending frequency and days since the last
gift, the stream's viewers and age, the host's popularity — entered as interactions with the
gift's (log) price, since a feature that is the same for every candidate cannot change a ranking
on its own; plus what carries most of the signal: the sender's own per-gift history, their last
gift, how far a gift's price is from the prices they usually pay, and the gift's popularity.

Training replays the history in time order, so every example sees only what was known before it
was sent (no leakage). The fitted parameters are a small JSON document stored through Django's
storage API under `gift_recommender/<version>.json` in the private media storage (a bucket in
production); serving loads the newest once per process and then needs one query for the sender's
history.
New senders (no history) get the most popular gifts.
"""

import json
import logging
import math
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.db.models import Count, Max, Min, Sum
from django.utils import timezone

from apps.core.storage import private_storage
from apps.gifts.models import Gift, GiftSend
from apps.gifts.selectors import GiftInfo, gift_catalogue, user_has_og
from apps.live.models import Stream

logger = logging.getLogger(__name__)

MODEL_DIR = "gift_recommender"
ACTIVE_VERSION_CACHE_KEY = "gifts:recommender:active-version"
HOST_POPULARITY_CACHE_KEY = "gifts:recommender:host-pop:{host_id}"
POPULAR_CACHE_KEY = "gifts:recommender:popular"
CACHE_SECONDS = 300
KEEP_VERSIONS = 10
TOP_K = 5

FEATURES = (
    "share_of_sends",  # how much of the sender's history is this gift
    "log_count",  # log(1 + times the sender sent it)
    "is_last_gift",
    "price_fit",  # -(log price - the sender's mean log price)^2 / (their variance + 0.5)
    "popularity",  # the gift's log share of all sends
    "log_price",
    "log_price_x_avg_spend",
    "log_price_x_frequency",
    "log_price_x_days_since_last",
    "log_price_x_viewers",
    "log_price_x_stream_age",
    "log_price_x_host_popularity",
    "log_price_squared",
)
# Sender and context quantities, standardised with the training means and deviations.
CONTEXT = ("avg_spend", "frequency", "days_since_last", "viewers", "stream_age", "host_popularity")


# --- Features -------------------------------------------------------------------------------------


@dataclass
class Examples:
    """N (sender, stream) situations against K candidate gifts, as arrays."""

    counts: np.ndarray  # N×K: the sender's earlier sends of each gift
    last_gift: np.ndarray  # N: index of their last gift, -1 for none
    mean_logp: np.ndarray  # N: mean log price of their earlier sends
    var_logp: np.ndarray  # N
    context: np.ndarray  # N×len(CONTEXT), raw (log1p) values


def context_row(
    *, sends: int, coins: int, first_at, last_at, at: datetime, viewers: int, started_at, host_senders: int
) -> list[float]:
    """The raw context features of one situation (log1p scaled); see CONTEXT for the order."""
    if sends:
        span_days = max((at - first_at).total_seconds() / 86400.0, 1.0)
        avg_spend = math.log1p(coins / sends)
        frequency = math.log1p(sends / span_days)
        since_last = math.log1p(max((at - last_at).total_seconds(), 0.0) / 86400.0)
    else:
        avg_spend = frequency = since_last = math.nan  # replaced by the training mean (z = 0)
    age_minutes = max((at - started_at).total_seconds() / 60.0, 0.0) if started_at else 0.0
    return [
        avg_spend,
        frequency,
        since_last,
        math.log1p(max(viewers, 0)),
        math.log1p(age_minutes),
        math.log1p(max(host_senders, 0)),
    ]


def feature_tensor(
    ex: Examples, *, log_price: np.ndarray, popularity: np.ndarray, ctx_mean: np.ndarray, ctx_std: np.ndarray
) -> np.ndarray:
    """N×K×D features (float32). The same function serves training, evaluation and requests."""
    n, k = ex.counts.shape
    total = ex.counts.sum(axis=1, keepdims=True)
    has_history = total > 0
    x = np.zeros((n, k, len(FEATURES)), dtype=np.float32)
    x[:, :, 0] = np.where(has_history, ex.counts / np.maximum(total, 1), 0.0)
    x[:, :, 1] = np.log1p(ex.counts)
    x[:, :, 2] = (ex.last_gift[:, None] == np.arange(k)[None, :]) & (ex.last_gift[:, None] >= 0)
    gap = log_price[None, :] - ex.mean_logp[:, None]
    x[:, :, 3] = np.where(has_history, -(gap**2) / (ex.var_logp[:, None] + 0.5), 0.0)
    x[:, :, 4] = popularity[None, :]
    lp = np.broadcast_to(log_price[None, :], (n, k))
    x[:, :, 5] = lp
    z = (ex.context - ctx_mean) / ctx_std
    z = np.where(np.isnan(z), 0.0, z)
    for j in range(len(CONTEXT)):
        x[:, :, 6 + j] = lp * z[:, j : j + 1]
    x[:, :, 12] = lp**2
    return x


# --- Fitting --------------------------------------------------------------------------------------


def fit_conditional_logit(x: np.ndarray, chosen: np.ndarray, *, l2: float = 1.0, iterations: int = 25) -> np.ndarray:
    """Weights maximising the softmax likelihood of the chosen candidates (Newton's method, ridge l2).

    x: N×K×D, chosen: N indices. D is small, so each Newton step solves a D×D system; a step that
    does not improve the penalised likelihood is halved.
    """
    n, k, d = x.shape
    x64 = x.astype(np.float64)
    picked = x64[np.arange(n), chosen]  # N×D

    def objective(w: np.ndarray) -> tuple[float, np.ndarray]:
        scores = x64 @ w
        scores -= scores.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(scores).sum(axis=1))
        chosen_scores = scores[np.arange(n), chosen]
        return float((log_norm - chosen_scores).sum() + 0.5 * l2 * w @ w), scores

    w = np.zeros(d)
    loss, scores = objective(w)
    for _ in range(iterations):
        p = np.exp(scores)
        p /= p.sum(axis=1, keepdims=True)
        mean_x = np.einsum("nk,nkd->nd", p, x64)
        grad = (mean_x - picked).sum(axis=0) + l2 * w
        hess = np.einsum("nk,nkd,nke->de", p, x64, x64) - mean_x.T @ mean_x + l2 * np.eye(d)
        step = np.linalg.solve(hess, grad)
        shrink = 1.0
        while shrink > 1e-4:
            candidate = w - shrink * step
            new_loss, new_scores = objective(candidate)
            if new_loss <= loss:
                break
            shrink /= 2
        else:
            break
        improvement = loss - new_loss
        w, loss, scores = candidate, new_loss, new_scores
        if improvement < 1e-6 * max(1.0, abs(loss)):
            break
    return w


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


@dataclass
class History:
    """Every send of the window in time order, replayed into point-in-time examples."""

    gift_ids: list[int]  # the candidate set (index = position)
    log_price: np.ndarray
    examples: Examples
    chosen: np.ndarray
    at: list[datetime]
    sender_ids: np.ndarray
    had_history: np.ndarray  # whether the sender had sent anything before this send


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
    streams = {
        pk: (viewers, started)
        for pk, viewers, started in Stream.objects.filter(pk__in={r[2] for r in rows}).values_list(
            "pk", "peak_viewers", "started_at"
        )
    }
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


def _subset(ex: Examples, mask: np.ndarray) -> Examples:
    return Examples(ex.counts[mask], ex.last_gift[mask], ex.mean_logp[mask], ex.var_logp[mask], ex.context[mask])


# --- The model --------------------------------------------------------------------------------


@dataclass
class GiftModel:
    version: str
    weights: np.ndarray
    ctx_mean: np.ndarray
    ctx_std: np.ndarray
    popularity: dict[int, float]  # gift id -> log share of sends in the training window
    popular_ids: list[int]  # most sent first
    trained_at: str = ""
    examples: int = 0

    def popularity_vector(self, gift_ids: list[int]) -> np.ndarray:
        floor = min(self.popularity.values(), default=math.log(1e-4))
        return np.array([self.popularity.get(g, floor) for g in gift_ids])

    def scores(self, ex: Examples, *, gift_ids: list[int], log_price: np.ndarray) -> np.ndarray:
        x = feature_tensor(
            ex,
            log_price=log_price,
            popularity=self.popularity_vector(gift_ids),
            ctx_mean=self.ctx_mean,
            ctx_std=self.ctx_std,
        )
        return x @ self.weights.astype(np.float32)

    def to_json(self) -> str:
        return json.dumps(
            {
                "version": self.version,
                "kind": "conditional-logit/v1",
                "features": list(FEATURES),
                "context": list(CONTEXT),
                "weights": self.weights.tolist(),
                "ctx_mean": self.ctx_mean.tolist(),
                "ctx_std": self.ctx_std.tolist(),
                "popularity": {str(k): v for k, v in self.popularity.items()},
                "popular_ids": self.popular_ids,
                "trained_at": self.trained_at,
                "examples": self.examples,
            }
        )

    @classmethod
    def from_json(cls, raw: str | bytes) -> "GiftModel":
        data = json.loads(raw)
        if data.get("features") != list(FEATURES) or data.get("context") != list(CONTEXT):
            raise ValueError("stored model has another feature layout")
        return cls(
            version=data["version"],
            weights=np.array(data["weights"]),
            ctx_mean=np.array(data["ctx_mean"]),
            ctx_std=np.array(data["ctx_std"]),
            popularity={int(k): float(v) for k, v in data["popularity"].items()},
            popular_ids=[int(g) for g in data["popular_ids"]],
            trained_at=data.get("trained_at", ""),
            examples=int(data.get("examples", 0)),
        )


def _popularity(gift_ids: list[int], chosen: np.ndarray) -> tuple[dict[int, float], list[int]]:
    counts = np.bincount(chosen, minlength=len(gift_ids)).astype(float)
    shares = (counts + 0.5) / (counts.sum() + 0.5 * len(gift_ids))
    order = sorted(range(len(gift_ids)), key=lambda i: (-counts[i], gift_ids[i]))
    return {g: float(math.log(s)) for g, s in zip(gift_ids, shares, strict=True)}, [gift_ids[i] for i in order]


def model_fit(history: History, mask: np.ndarray, *, max_examples: int) -> GiftModel:
    """Fit on the masked sends (the most recent max_examples of them with a sender history)."""
    popularity, popular_ids = _popularity(history.gift_ids, history.chosen[mask])
    train = mask & history.had_history
    idx = np.flatnonzero(train)[-max_examples:]
    ex = _subset(history.examples, np.isin(np.arange(len(train)), idx))
    ctx = ex.context
    ctx_mean = np.nanmean(ctx, axis=0) if len(ctx) else np.zeros(len(CONTEXT))
    ctx_std = np.nanstd(ctx, axis=0) if len(ctx) else np.ones(len(CONTEXT))
    ctx_mean = np.nan_to_num(ctx_mean)
    ctx_std = np.where(np.nan_to_num(ctx_std) > 1e-6, np.nan_to_num(ctx_std), 1.0)
    model = GiftModel(
        version=timezone.now().strftime("%Y%m%dT%H%M%S%fZ"),
        weights=np.zeros(len(FEATURES)),
        ctx_mean=ctx_mean,
        ctx_std=ctx_std,
        popularity=popularity,
        popular_ids=popular_ids,
        trained_at=timezone.now().isoformat(),
        examples=len(idx),
    )
    if len(idx):
        x = feature_tensor(
            ex,
            log_price=history.log_price,
            popularity=model.popularity_vector(history.gift_ids),
            ctx_mean=ctx_mean,
            ctx_std=ctx_std,
        )
        model.weights = fit_conditional_logit(x, history.chosen[idx])
    return model


# --- Storage --------------------------------------------------------------------------------------


def model_store(model: GiftModel) -> str:
    """Save the model as a new version, keep the newest KEEP_VERSIONS, make it the active one."""
    name = private_storage().save(f"{MODEL_DIR}/{model.version}.json", ContentFile(model.to_json().encode()))
    versions = _stored_versions()
    for old in versions[:-KEEP_VERSIONS]:
        private_storage().delete(f"{MODEL_DIR}/{old}.json")
    cache.set(ACTIVE_VERSION_CACHE_KEY, model.version, CACHE_SECONDS)
    cache.delete(POPULAR_CACHE_KEY)
    _local.pop(ACTIVE_VERSION_CACHE_KEY, None)  # this process serves the new version at once
    return name


def _stored_versions() -> list[str]:
    try:
        _, files = private_storage().listdir(MODEL_DIR)
    except FileNotFoundError:
        return []
    return sorted(f.removesuffix(".json") for f in files if f.endswith(".json"))


_loaded: dict[str, GiftModel] = {}
_load_lock = threading.Lock()
# Per-process copies of small shared values, so a request makes no cache round trip for them.
LOCAL_SECONDS = 10.0
_local: dict[str, tuple[float, object]] = {}


def _local_get(key: str, load):
    """`load()` at most every LOCAL_SECONDS per process (stale by at most that much)."""
    hit = _local.get(key)
    now = time.monotonic()
    if hit is not None and now - hit[0] < LOCAL_SECONDS:
        return hit[1]
    value = load()
    _local[key] = (now, value)
    return value


def local_caches_clear() -> None:
    _local.clear()
    _loaded.clear()


def _active_version() -> str:
    version = cache.get(ACTIVE_VERSION_CACHE_KEY)
    if version is None:
        versions = _stored_versions()
        version = versions[-1] if versions else ""
        cache.set(ACTIVE_VERSION_CACHE_KEY, version, CACHE_SECONDS)
    return version


def model_active() -> GiftModel | None:
    """The newest stored model, loaded once per process (the version name is shared through the cache)."""
    version = _local_get(ACTIVE_VERSION_CACHE_KEY, _active_version)
    if not version:
        return None
    model = _loaded.get(version)
    if model is None:
        with _load_lock:
            model = _loaded.get(version)
            if model is None:
                try:
                    with private_storage().open(f"{MODEL_DIR}/{version}.json", "rb") as fh:
                        model = GiftModel.from_json(fh.read())
                except (FileNotFoundError, ValueError, KeyError):
                    logger.warning("gift model version unreadable", extra={"version": version})
                    cache.delete(ACTIVE_VERSION_CACHE_KEY)
                    _local.pop(ACTIVE_VERSION_CACHE_KEY, None)
                    return None
                _loaded.clear()
                _loaded[version] = model
    return model


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
        history, np.ones(len(history.chosen), dtype=bool), max_examples=settings.GIFT_RECOMMENDER_MAX_EXAMPLES
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
    model = model_fit(history, train, max_examples=settings.GIFT_RECOMMENDER_MAX_EXAMPLES)

    test_idx = np.flatnonzero(test)
    ex = _subset(history.examples, test)
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


# --- Serving ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recommendation:
    gifts: list[GiftInfo]
    source: str  # "model" or "popularity"
    model_version: str


def _host_senders(host_id: int) -> int:
    key = HOST_POPULARITY_CACHE_KEY.format(host_id=host_id)

    def load() -> int:
        value = cache.get(key)
        if value is None:
            since = timezone.now() - timedelta(days=settings.GIFT_RECOMMENDER_HISTORY_DAYS)
            qs = GiftSend.objects.filter(host_id=host_id, created_at__gte=since)
            value = qs.values("sender_id").distinct().count()
            cache.set(key, value, CACHE_SECONDS)
        return value

    return _local_get(key, load)


def popular_gift_ids(model: GiftModel | None) -> list[int]:
    """Most sent gifts: the model's training counts, else the live history (cached), else tray order."""
    if model is not None and model.popular_ids:
        return model.popular_ids
    ids = cache.get(POPULAR_CACHE_KEY)
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
                has_og = user_has_og(user_id=user_id)
            if not has_og:
                continue
        picked.append(gift)
        if len(picked) == TOP_K:
            break
    return picked


def gift_recommendations(*, user_id: int, stream: Stream) -> Recommendation:
    """The five gifts this user is most likely to send in this stream, best first.

    One query for the sender's history; the catalogue, the model's version and the host's
    popularity come from the shared cache through a per-process copy refreshed every
    LOCAL_SECONDS (an admin's catalogue edit shows here that much later). Without history, or
    without a trained model, the most popular gifts.
    """
    catalogue = _local_get("gifts:recommender:catalogue", gift_catalogue)
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
