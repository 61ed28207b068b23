import uuid

import pytest

from apps.gifts import recommender
from apps.wallet.selectors import ledger_audit
from apps.wallet.services import ledger_rollup
from tests.accounts.factories import UserFactory
from tests.gifts.factories import GiftFactory, LiveStreamFactory
from tests.wallet.factories import fund


@pytest.fixture
def stream(db):
    return LiveStreamFactory()


@pytest.fixture
def gift(db):
    return GiftFactory(name="Momo", coin_price=20)


@pytest.fixture
def sender(db):
    user = UserFactory()
    fund(user, 1_000)
    return user


@pytest.fixture
def recommender_storage(isolated_media):
    """Recommender models are stored apart for each test, and no process copy survives between tests."""
    recommender.local_caches_clear()
    yield
    recommender.local_caches_clear()


@pytest.fixture
def post_gift(auth_client):
    """POST /api/v1/gifts/send/ as a user, with a fresh Idempotency-Key unless one is given."""

    def send(user, *, key: str | None = None, client=None, **body):
        client = client or auth_client(user)
        return client.post("/api/v1/gifts/send/", body, format="json", HTTP_IDEMPOTENCY_KEY=key or uuid.uuid4().hex)

    return send


def assert_ledger_sound() -> None:
    """The audit passes, before and after folding pending credits into balances."""
    assert ledger_audit() == []
    ledger_rollup()
    assert ledger_audit() == []
