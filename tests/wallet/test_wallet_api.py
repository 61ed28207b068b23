import pytest

from apps.gifts.services import gift_send
from apps.wallet.services import ledger_rollup
from tests.accounts.factories import UserFactory
from tests.gifts.factories import GiftFactory, LiveStreamFactory
from tests.wallet.factories import fund

pytestmark = pytest.mark.django_db


def test_balance_shows_coins_earnings_and_cashout_terms(auth_client, settings):
    settings.CASHOUT_MIN_COINS, settings.CASHOUT_PAISA_PER_COIN = 1000, 50
    host, viewer = UserFactory(), UserFactory()
    fund(viewer, 300)
    stream = LiveStreamFactory(host=host)
    gift_send(sender_id=viewer.pk, stream_id=stream.pk, gift_id=GiftFactory(coin_price=100).pk, quantity=2)

    assert auth_client(viewer).get("/api/v1/wallet/").json() == {
        "coins": 100,
        "earnings": 0,
        "cashout_min_coins": 1000,
        "cashout_paisa_per_coin": 50,
    }
    # pending credits count before and after the rollup alike
    assert auth_client(host).get("/api/v1/wallet/").json()["earnings"] == 120
    ledger_rollup()
    assert auth_client(host).get("/api/v1/wallet/").json()["earnings"] == 120


def test_history_filters_by_kind_and_pages_with_a_cursor(auth_client, django_assert_max_num_queries):
    viewer = UserFactory()
    for _ in range(5):
        fund(viewer, 100)
    stream = LiveStreamFactory()
    gift = GiftFactory(coin_price=10)
    for _ in range(3):
        gift_send(sender_id=viewer.pk, stream_id=stream.pk, gift_id=gift.pk, quantity=1)
    client = auth_client(viewer)

    # all eight postings, newest first, three per page
    page = client.get("/api/v1/wallet/history/", {"page_size": 3}).json()
    seen = []
    while True:
        seen += page["results"]
        if not page["next"]:
            break
        with django_assert_max_num_queries(3):
            page = client.get(page["next"]).json()
    assert len(seen) == 8 and len({p["id"] for p in seen}) == 8
    assert [p["id"] for p in seen] == sorted((p["id"] for p in seen), reverse=True)
    assert [p["kind"] for p in seen] == ["gift"] * 3 + ["grant"] * 5

    gifts = client.get("/api/v1/wallet/history/", {"kind": "gift"}).json()["results"]
    assert [(p["kind"], p["amount"], p["account"]) for p in gifts] == [("gift", -10, "user_coins")] * 3
    assert client.get("/api/v1/wallet/history/", {"kind": "topup"}).json()["results"] == []


def test_history_shows_only_my_postings(auth_client):
    mine, theirs = UserFactory(), UserFactory()
    fund(mine, 10)
    fund(theirs, 20)
    results = auth_client(mine).get("/api/v1/wallet/history/").json()["results"]
    assert [p["amount"] for p in results] == [10]


def test_wallet_needs_sign_in(api_client):
    for url in ("/api/v1/wallet/", "/api/v1/wallet/history/", "/api/v1/wallet/cashouts/"):
        response = api_client.get(url)
        assert response.status_code == 401 and set(response.json()) == {"code", "message", "details"}
