"""Gift recommendations: training, versioned storage, the API's shape, cold start, OG gating."""

import io
import math
import uuid
from datetime import timedelta

import numpy as np
import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.core.storage import private_storage
from apps.gifts import recommender
from apps.gifts.demo import catalogue_seed as seed_gift_catalogue
from apps.gifts.models import Gift, GiftSend
from apps.gifts.services import gift_send
from apps.live.services import stream_go_live
from tests.accounts.factories import UserFactory
from tests.core.errors import assert_error
from tests.gifts.factories import LiveStreamFactory
from tests.wallet.factories import fund

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("recommender_storage")]

URL = "/api/v1/gifts/recommendations/"


@pytest.fixture
def catalogue(db):
    seed_gift_catalogue(out=lambda _: None)
    return {g.name: g for g in Gift.objects.all()}


def _send(user, stream, gift, *, days_ago: float = 0.0):
    send = gift_send(sender_id=user.pk, stream_id=stream.pk, gift_id=gift.pk, quantity=1, ref=uuid.uuid4().hex).send
    if days_ago:
        GiftSend.objects.filter(pk=send.pk).update(created_at=timezone.now() - timedelta(days=days_ago))
    return send


@pytest.fixture
def history(catalogue):
    """Three regulars with clear tastes and a crowd that mostly sends Roses and Hearts."""
    stream = LiveStreamFactory(current_viewers=120, peak_viewers=150)
    fans = {"momo": UserFactory(), "khukuri": UserFactory(), "chiya": UserFactory()}
    crowd = UserFactory.create_batch(4)
    for user in [*fans.values(), *crowd]:
        fund(user, 50_000)
    for i in range(6):
        _send(fans["momo"], stream, catalogue["Momo"], days_ago=20 - i)
        _send(fans["khukuri"], stream, catalogue["Khukuri"], days_ago=20 - i)
        _send(fans["chiya"], stream, catalogue["Chiya"], days_ago=20 - i)
    for i, user in enumerate(crowd):
        for j in range(6):
            name = ["Rose", "Heart", "Rose", "Thumbs Up", "Heart", "Rose"][(i + j) % 6]
            _send(user, stream, catalogue[name], days_ago=15 - j)
    _send(crowd[0], stream, catalogue["Sel Roti"], days_ago=1)
    _send(crowd[1], stream, catalogue["Dhaka Topi"], days_ago=1)
    return {"stream": stream, "fans": fans, "crowd": crowd}


def test_a_regular_sees_their_own_gifts_first(auth_client, history, catalogue):
    # given a trained model
    model = recommender.recommender_train()
    assert model is not None and model.examples > 0

    # when the Khukuri regular asks for recommendations in the stream
    response = auth_client(history["fans"]["khukuri"]).get(URL, {"stream": history["stream"].pk})

    # then the answer has the stream, the model's version and five full gifts, Khukuri first
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["stream"] == history["stream"].pk
    assert body["source"] == "model" and body["model_version"] == model.version
    assert len(body["gifts"]) == 5
    assert set(body["gifts"][0]) == {
        "id",
        "name",
        "coin_price",
        "icon_url",
        "animation_url",
        "category",
        "og_only",
        "order",
    }
    assert body["gifts"][0]["id"] == catalogue["Khukuri"].pk
    assert len({g["id"] for g in body["gifts"]}) == 5
    momo = auth_client(history["fans"]["momo"]).get(URL, {"stream": history["stream"].pk}).json()
    assert momo["gifts"][0]["id"] == catalogue["Momo"].pk


def test_a_new_sender_gets_the_most_popular_gifts(auth_client, history, catalogue):
    model = recommender.recommender_train()
    newcomer = UserFactory()

    body = auth_client(newcomer).get(URL, {"stream": history["stream"].pk}).json()

    # then popularity answers: the crowd's Roses and Hearts lead, in the model's popularity order
    assert body["source"] == "popularity" and body["model_version"] == model.version
    assert [g["id"] for g in body["gifts"]] == model.popular_ids[:5]
    assert body["gifts"][0]["id"] == catalogue["Rose"].pk


def test_without_any_model_everyone_gets_live_popularity(auth_client, history, catalogue):
    body = auth_client(history["fans"]["momo"]).get(URL, {"stream": history["stream"].pk}).json()
    assert body["source"] == "popularity" and body["model_version"] == ""
    assert body["gifts"][0]["id"] == catalogue["Rose"].pk
    assert len(body["gifts"]) == 5


def test_with_no_history_at_all_the_tray_order_answers(auth_client, catalogue):
    stream = LiveStreamFactory()
    body = auth_client(UserFactory()).get(URL, {"stream": stream.pk}).json()
    expected = list(Gift.objects.filter(is_active=True, og_only=False).order_by("order", "id")[:5])
    assert [g["id"] for g in body["gifts"]] == [g.pk for g in expected]


def test_og_only_gifts_are_never_recommended_to_non_members(auth_client, catalogue):
    # given a whale (an account of some months: its large gifts need no confirmation) whose taste is
    # the OG-only crown's price range
    stream = LiveStreamFactory()
    whale = UserFactory(date_joined=timezone.now() - timedelta(days=90))
    fund(whale, 500_000)
    for i in range(5):
        _send(whale, stream, catalogue["Sports Car"], days_ago=5 - i)
        _send(whale, stream, catalogue["Everest"], days_ago=5 - i)
    recommender.recommender_train()

    body = auth_client(whale).get(URL, {"stream": stream.pk}).json()

    assert body["source"] == "model"
    assert not any(g["og_only"] for g in body["gifts"])
    assert len(body["gifts"]) == 5


def test_bad_requests(auth_client, api_client, user, catalogue):
    assert_error(auth_client(user).get(URL), 400, "invalid")
    assert_error(auth_client(user).get(URL, {"stream": "abc"}), 400, "invalid")
    assert_error(auth_client(user).get(URL, {"stream": 1, "extra": 2}), 400, "invalid")
    assert_error(auth_client(user).get(URL, {"stream": 999_999}), 404)
    assert_error(api_client.get(URL, {"stream": 1}), 401)


def test_each_training_stores_a_new_version_and_serving_follows_the_newest(history, settings):
    first = recommender.recommender_train()
    second = recommender.recommender_train()
    assert second.version > first.version
    stored = private_storage().listdir(recommender.MODEL_DIR)[1]
    assert {f"{first.version}.json", f"{second.version}.json"} <= set(stored)
    assert recommender.model_active().version == second.version
    # and a fresh process (empty caches) finds the newest one in storage
    recommender.local_caches_clear()
    from django.core.cache import cache

    cache.delete(recommender.ACTIVE_VERSION_CACHE_KEY)
    loaded = recommender.model_active()
    assert loaded.version == second.version
    assert np.allclose(loaded.weights, second.weights)


def test_old_versions_are_pruned(history, monkeypatch):
    monkeypatch.setattr(recommender.storage, "KEEP_VERSIONS", 2)
    versions = [recommender.recommender_train().version for _ in range(4)]
    stored = sorted(f.removesuffix(".json") for f in private_storage().listdir(recommender.MODEL_DIR)[1])
    assert stored == versions[-2:]


def test_training_with_no_history_stores_nothing(db):
    assert recommender.recommender_train() is None
    out = io.StringIO()
    call_command("train_gift_recommender", stdout=out)
    assert "nothing to train" in out.getvalue()
    assert recommender.model_active() is None


def test_replayed_examples_only_know_the_past(history, catalogue):
    # when the history is replayed, then each send's features come from earlier sends only
    replay = recommender.history_replay()
    momo_fan = history["fans"]["momo"].pk
    rows = np.flatnonzero(replay.sender_ids == momo_fan)
    momo = replay.gift_ids.index(catalogue["Momo"].pk)
    assert not replay.had_history[rows[0]]
    assert [replay.examples.counts[i, momo] for i in rows] == [0, 1, 2, 3, 4, 5]
    assert all(replay.examples.last_gift[i] == momo for i in rows[1:])


def test_the_fit_recovers_a_known_preference():
    # given choices simulated from a known weight vector over random features
    rng = np.random.default_rng(3)
    true_w = rng.normal(size=len(recommender.FEATURES))
    x = rng.normal(size=(4000, 8, len(recommender.FEATURES))).astype(np.float32)
    scores = x @ true_w
    p = np.exp(scores - scores.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    chosen = np.array([rng.choice(8, p=row) for row in p])

    # when the conditional logit is fitted, then it finds the weights again
    w = recommender.fit_conditional_logit(x, chosen, l2=0.1)
    assert np.corrcoef(w, true_w)[0, 1] > 0.98
    assert math.isclose(float(np.linalg.norm(w)), float(np.linalg.norm(true_w)), rel_tol=0.15)


def test_stream_context_reaches_the_features(history, catalogue):
    # given a stream started an hour ago with 500 viewers, the request's context row says so
    host = UserFactory()
    stream = stream_go_live(host=host, title="big room")
    stream.current_viewers = 500
    stream.started_at = timezone.now() - timedelta(hours=1)
    row = recommender.context_row(
        sends=0,
        coins=0,
        first_at=None,
        last_at=None,
        at=timezone.now(),
        viewers=500,
        started_at=stream.started_at,
        host_senders=7,
    )
    assert row[3] == pytest.approx(math.log1p(500))
    assert row[4] == pytest.approx(math.log1p(60), rel=1e-3)
    assert row[5] == pytest.approx(math.log1p(7))
    assert all(math.isnan(v) for v in row[:3])


def test_serving_costs_three_queries(auth_client, history, django_assert_num_queries):
    # given a trained model and a warmed process (catalogue, model and host popularity cached)
    recommender.recommender_train()
    client = auth_client(history["fans"]["momo"])
    client.get(URL, {"stream": history["stream"].pk})

    # then a request reads the user (auth), the stream and the sender's history, nothing else
    with django_assert_num_queries(3):
        response = client.get(URL, {"stream": history["stream"].pk})
    assert response.json()["source"] == "model"
