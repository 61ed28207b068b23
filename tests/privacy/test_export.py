"""The user's data export: their own data, whole, and nobody else's private data."""

import pytest

from apps.accounts.models import Block, Follow
from apps.accounts.services import user_face_descriptor_set
from apps.gifts.services import gift_send
from apps.payments.models import Payment
from apps.wallet.services import ledger_rollup
from tests.accounts.factories import UserFactory
from tests.core.errors import assert_error
from tests.gifts.factories import GiftFactory, LiveStreamFactory
from tests.moderation.factories import EnforcementFactory
from tests.reels.factories import ReelFactory
from tests.wallet.factories import fund

EXPORT = "/api/v1/me/export/"


@pytest.mark.django_db
def test_export_holds_the_users_own_data(user, auth_client, isolated_media):
    # given a user who follows, is followed, blocks, gifts, receives gifts, pays, posts and was warned
    friend = UserFactory(phone="+9779800000001")
    fan = UserFactory(phone="+9779800000002")
    pest = UserFactory()
    hater = UserFactory()
    Follow.objects.create(follower=user, followee=friend)
    Follow.objects.create(follower=fan, followee=user)
    Block.objects.create(blocker=user, blocked=pest)
    Block.objects.create(blocker=hater, blocked=user)  # the hater's data, not the user's
    fund(user, 500)
    rose = GiftFactory(name="Rose", coin_price=20)
    gift_send(sender_id=user.pk, stream_id=LiveStreamFactory(host=friend).pk, gift_id=rose.pk, quantity=2)
    fund(fan, 100)
    gift_send(sender_id=fan.pk, stream_id=LiveStreamFactory(host=user).pk, gift_id=rose.pk, quantity=1)
    ledger_rollup()
    Payment.objects.create(
        user=user, package_name="Starter", coins=100, gateway="esewa", amount_paisa=10_000, merchant_ref="exp-1"
    )
    Payment.objects.create(
        user=fan, package_name="Big", coins=999, gateway="khalti", amount_paisa=99_900, merchant_ref="exp-2"
    )
    ReelFactory(author=user, caption="my dance")
    ReelFactory(author=friend, caption="not mine")
    EnforcementFactory(user=user, explanation="Warning: be kind.")
    EnforcementFactory(user=friend, explanation="someone else's warning")

    # when they download their export
    response = auth_client(user).get(EXPORT)

    # then it is a JSON download of their data
    assert response.status_code == 200, response.content
    assert response["Content-Disposition"].startswith('attachment; filename="halobuzz-')
    data = response.json()
    assert data["profile"]["username"] == user.username and data["profile"]["email"] == user.email
    assert [row["username"] for row in data["following"]] == [friend.username]
    assert [row["username"] for row in data["followers"]] == [fan.username]
    assert [row["username"] for row in data["blocked"]] == [pest.username]
    assert [(g["gift"], g["quantity"], g["coins"], g["to"]) for g in data["gifts_sent"]] == [
        ("Rose", 2, 40, friend.username)
    ]
    assert [(g["coins"], g["from"]) for g in data["gifts_received"]] == [(20, fan.username)]
    kinds = [(row["kind"], row["account"], row["amount"]) for row in data["coin_statement"]]
    assert ("grant", "user_coins", 500) in kinds and ("gift", "user_coins", -40) in kinds
    assert any(kind == "gift" and account == "host_earnings" for kind, account, _ in kinds)
    assert [p["merchant_ref"] for p in data["payments"]] == ["exp-1"]
    assert [r["caption"] for r in data["reels"]] == ["my dance"]
    assert [m["explanation"] for m in data["moderation_decisions"]] == ["Warning: be kind."]
    # and nothing private of anyone else: no other user's email, phone, payments, reels or blocks
    text = response.content.decode()
    for other in (friend, fan, pest, hater):
        assert other.email not in text
        if other.phone:
            assert other.phone not in text
    assert hater.username not in text
    assert "exp-2" not in text and "not mine" not in text and "someone else's" not in text


@pytest.mark.django_db
def test_export_holds_the_face_descriptor_kept_from_the_age_selfie(user, auth_client):
    assert auth_client(user).get(EXPORT).json()["face_descriptor"] is None
    user_face_descriptor_set(user_id=user.pk, descriptor=[0.25] * 128, model_version="dlib-test")

    face = auth_client(user).get(EXPORT).json()["face_descriptor"]

    assert face["descriptor"] == [0.25] * 128 and face["model_version"] == "dlib-test"
    assert face["kept_since"]


@pytest.mark.django_db
def test_export_needs_a_signed_in_user_and_is_rate_limited(api_client, settings, user, auth_client):
    assert_error(api_client.get(EXPORT), 401)
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "data_export": "2/day"},
    }
    client = auth_client(user)
    assert [client.get(EXPORT).status_code for _ in range(2)] == [200, 200]
    assert_error(client.get(EXPORT), 429, "throttled")
    # another user's limit is their own
    assert auth_client(UserFactory()).get(EXPORT).status_code == 200
