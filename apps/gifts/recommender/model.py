"""The gift recommender's model, in numpy alone (no Django): features, the conditional logit and
its fit, and the stored form of a fitted model.

The model is a conditional logit (a softmax over the catalogue) fitted with numpy: each candidate
gift gets a score w·x(sender, stream, gift) and the tray shows the five highest. The features are
what the seed names — the sender's average spend, sending frequency and days since the last
gift, the stream's viewers and age, the host's popularity — entered as interactions with the
gift's (log) price, since a feature that is the same for every candidate cannot change a ranking
on its own; plus what carries most of the signal: the sender's own per-gift history, their last
gift, how far a gift's price is from the prices they usually pay, and the gift's popularity.
"""

import json
import math
from dataclasses import dataclass
from datetime import datetime

import numpy as np

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
    *,
    sends: int,
    coins: int,
    first_at: datetime | None,
    last_at: datetime | None,
    at: datetime,
    viewers: int,
    started_at: datetime | None,
    host_senders: int,
) -> list[float]:
    """The raw context features of one situation (log1p scaled); see CONTEXT for the order."""
    if sends and first_at is not None and last_at is not None:  # a sender with history has both
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


# --- Training data ----------------------------------------------------------------------------------


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


def examples_subset(ex: Examples, mask: np.ndarray) -> Examples:
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


def model_fit(history: History, mask: np.ndarray, *, max_examples: int, now: datetime) -> GiftModel:
    """Fit on the masked sends (the most recent max_examples of them with a sender history); `now`
    names the version."""
    popularity, popular_ids = _popularity(history.gift_ids, history.chosen[mask])
    train = mask & history.had_history
    idx = np.flatnonzero(train)[-max_examples:]
    ex = examples_subset(history.examples, np.isin(np.arange(len(train)), idx))
    ctx = ex.context
    ctx_mean = np.nanmean(ctx, axis=0) if len(ctx) else np.zeros(len(CONTEXT))
    ctx_std = np.nanstd(ctx, axis=0) if len(ctx) else np.ones(len(CONTEXT))
    ctx_mean = np.nan_to_num(ctx_mean)
    ctx_std = np.where(np.nan_to_num(ctx_std) > 1e-6, np.nan_to_num(ctx_std), 1.0)
    model = GiftModel(
        version=now.strftime("%Y%m%dT%H%M%S%fZ"),
        weights=np.zeros(len(FEATURES)),
        ctx_mean=ctx_mean,
        ctx_std=ctx_std,
        popularity=popularity,
        popular_ids=popular_ids,
        trained_at=now.isoformat(),
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
