"""POST /api/v1/gifts/send/: the split, the record, the room event, and every refusal."""

import asyncio
from datetime import date, timedelta

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from django.utils import timezone

from apps.accounts.models import Block
from apps.accounts.services import user_ban
from apps.gifts.models import GiftSend
from apps.live.events import stream_group_name
from apps.live.models import Stream
from apps.wallet.models import Account, JournalEntry, Posting
from apps.wallet.selectors import coins_balance, user_balances
from apps.wallet.services import ledger_rollup
from tests.accounts.factories import UserFactory
from tests.gifts.conftest import assert_ledger_sound
from tests.gifts.factories import GiftFactory, LiveStreamFactory
from tests.wallet.factories import fund

pytestmark = pytest.mark.django_db


def _nothing_written(sender, before_balance: int) -> None:
    assert GiftSend.objects.count() == 0
    assert not JournalEntry.objects.filter(kind="gift").exists()
    assert coins_balance(user_id=sender.pk) == before_balance


def test_send_debits_sender_and_splits_between_host_and_platform(sender, stream, gift, post_gift, settings):
    # given a host share of 60% and a 20-coin gift
    settings.GIFT_HOST_SHARE_PERCENT = 60

    # when the sender sends three
    response = post_gift(sender, stream=stream.pk, gift=gift.pk, quantity=3)

    # then 60 coins left the sender: 36 to the host's earnings, 24 to revenue, one balanced entry
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["coins"] == 60 and body["host_share"] == 36 and body["platform_share"] == 24
    assert body["rate"] == 60 and body["balance"] == 940 and body["quantity"] == 3
    send = GiftSend.objects.get()
    assert (send.sender_id, send.host_id, send.stream_id, send.gift_id) == (
        sender.pk,
        stream.host_id,
        stream.pk,
        gift.pk,
    )
    assert coins_balance(user_id=sender.pk) == 940
    assert user_balances(user=stream.host)["earnings"] == 36
    postings = dict(Posting.objects.filter(entry=send.entry).values_list("account__kind", "amount"))
    assert postings == {"user_coins": -60, "host_earnings": 36, "revenue": 24}
    ledger_rollup()
    assert Account.objects.get(owner=stream.host, kind="host_earnings").balance == 36
    assert_ledger_sound()


def test_host_share_rounds_down_and_rate_is_configurable(sender, stream, post_gift, settings):
    # given a 70% host share and a 1-coin rose
    settings.GIFT_HOST_SHARE_PERCENT = 70
    rose = GiftFactory(coin_price=1)

    # when one rose is sent
    body = post_gift(sender, stream=stream.pk, gift=rose.pk, quantity=1).json()

    # then the host's 0.7 coin rounds down to 0 and the platform keeps the coin
    assert (body["host_share"], body["platform_share"], body["rate"]) == (0, 1, 70)
    assert_ledger_sound()


@pytest.mark.django_db(transaction=True)
def test_room_hears_the_gift_as_a_streak_after_commit(sender, stream, gift, post_gift):
    # given a socket listening in the stream's room (on the real channel layer)
    async def listen_while_sending():
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(stream_group_name(stream.pk), channel)
        try:
            # when a gift is sent
            response = await sync_to_async(post_gift)(sender, stream=stream.pk, gift=gift.pk, quantity=2)
            message = await asyncio.wait_for(layer.receive(channel), timeout=5)
        finally:
            await layer.group_discard(stream_group_name(stream.pk), channel)
        return response, message

    response, message = async_to_sync(listen_while_sending)()

    # then the room receives, at once, the first frame of the sender's Momo streak: the sender, the gift and the coins
    assert response.status_code == 201
    assert message["type"] == "room.event"
    event = message["event"]
    assert event["type"] == "gift.combo"
    assert event["payload"] == {
        "streak_id": response.json()["id"],
        "sender": {"id": sender.pk, "username": sender.username, "display_name": sender.name},
        "gift": {"id": gift.pk, "name": "Momo", "icon_url": gift.icon_url, "animation_url": gift.animation_url},
        "count": 2,
        "sends": 1,
        "coins": 40,
        "ended": False,
    }


def test_retry_with_same_key_replays_and_charges_once(sender, stream, gift, post_gift):
    first = post_gift(sender, key="tap-1", stream=stream.pk, gift=gift.pk)
    again = post_gift(sender, key="tap-1", stream=stream.pk, gift=gift.pk)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert GiftSend.objects.count() == 1
    assert coins_balance(user_id=sender.pk) == 980


def test_insufficient_coins_is_409_with_balance_and_needed(stream, gift, post_gift):
    poor = UserFactory()
    fund(poor, 30)
    response = post_gift(poor, stream=stream.pk, gift=gift.pk, quantity=2)
    assert response.status_code == 409
    assert response.json() == {
        "code": "insufficient_coins",
        "message": "Not enough coins: you have 30 coins, need 40.",
        "details": {"balance": 30, "needed": 40},
    }
    _nothing_written(poor, 30)


def test_user_without_any_coins_gets_insufficient_coins(stream, gift, post_gift):
    broke = UserFactory()
    response = post_gift(broke, stream=stream.pk, gift=gift.pk)
    assert response.status_code == 409
    assert response.json()["details"] == {"balance": 0, "needed": 20}
    assert GiftSend.objects.count() == 0


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("unknown_gift", 404, "gift_unavailable"),
        ("inactive_gift", 404, "gift_unavailable"),
        ("og_only_gift", 403, "gift_og_only"),
        ("stream_not_live", 409, "stream_not_live"),
        ("unknown_stream", 404, "not_found"),
        ("own_stream", 400, "cannot_gift_self"),
        ("host_blocked_sender", 403, "user_blocked"),
        ("sender_blocked_host", 403, "user_blocked"),
        ("banned_sender", 403, "account_banned"),
        ("minor_sender", 403, "age_restricted"),
        ("held_for_age_review", 403, "age_check_failed"),
        ("quantity_zero", 400, "invalid"),
        ("quantity_1000", 400, "invalid"),
        ("sender_field", 400, "invalid"),
    ],
)
def test_bad_sends_are_refused_in_one_shape_and_write_nothing(case, status, code, sender, stream, gift, post_gift):
    # given a funded sender, a live stream and a sendable gift, spoiled by one thing
    body = {"stream": stream.pk, "gift": gift.pk, "quantity": 1}
    if case == "unknown_gift":
        body["gift"] = 999_999
    elif case == "inactive_gift":
        gift.is_active = False
        gift.save()
    elif case == "og_only_gift":
        body["gift"] = GiftFactory(og_only=True).pk
    elif case == "stream_not_live":
        Stream.objects.filter(pk=stream.pk).update(status=Stream.Status.ENDED, ended_at=timezone.now())
    elif case == "unknown_stream":
        body["stream"] = 999_999
    elif case == "own_stream":
        body["stream"] = LiveStreamFactory(host=sender).pk
    elif case == "host_blocked_sender":
        Block.objects.create(blocker=stream.host, blocked=sender)
    elif case == "sender_blocked_host":
        Block.objects.create(blocker=sender, blocked=stream.host)
    elif case == "banned_sender":
        user_ban(user=sender, days=1, reason="spam")
    elif case == "minor_sender":
        sender.date_of_birth = timezone.localdate() - timedelta(days=16 * 365)
        sender.save()
    elif case == "held_for_age_review":
        sender.age_verification = sender.AgeVerification.PENDING_REVIEW
        sender.save()
    elif case == "quantity_zero":
        body["quantity"] = 0
    elif case == "quantity_1000":
        body["quantity"] = 1000
    elif case == "sender_field":
        body["sender"] = UserFactory().pk

    # when the send is attempted
    response = post_gift(sender, **body)

    # then it is refused with {"code", "message", "details"} and nothing moved
    assert response.status_code == status, response.json()
    assert set(response.json()) == {"code", "message", "details"}
    assert response.json()["code"] == code
    _nothing_written(sender, 1_000)


@pytest.mark.parametrize(("perk", "expected"), [(True, 201), (False, 403)])
def test_og_only_gift_needs_a_tier_with_the_perk(perk, expected, sender, stream, post_gift):
    # given the sender holds an active OG membership whose tier does (or does not) allow OG-only gifts
    from apps.og.models import OgMembership, OgTier

    tier = OgTier.objects.create(
        level=3, name="Gold", price_coins=500, duration_days=30, badge="gold", og_only_gifts=perk
    )
    now = timezone.now()
    OgMembership.objects.create(
        user=sender,
        tier=tier,
        started_at=now,
        expires_at=now + timedelta(days=30),
        paid_price_coins=500,
        paid_duration_days=30,
    )
    crown = GiftFactory(og_only=True, coin_price=100)

    # when they send the OG-only gift
    response = post_gift(sender, stream=stream.pk, gift=crown.pk)

    # then only the perk lets it through
    assert response.status_code == expected, response.json()


def test_idempotency_key_is_required(sender, stream, gift, auth_client):
    response = auth_client(sender).post("/api/v1/gifts/send/", {"stream": stream.pk, "gift": gift.pk}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "idempotency_key_invalid"
    _nothing_written(sender, 1_000)


def test_sign_in_required(stream, gift, api_client):
    response = api_client.post(
        "/api/v1/gifts/send/", {"stream": stream.pk, "gift": gift.pk}, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )
    assert response.status_code == 401
    assert set(response.json()) == {"code", "message", "details"}


def test_sender_is_always_the_signed_in_user(sender, stream, gift, post_gift):
    # given another funded user whose coins a caller would like to spend
    victim = UserFactory()
    fund(victim, 500)

    # when the sender signs in as themselves and sends
    post_gift(sender, stream=stream.pk, gift=gift.pk)

    # then only the signed-in user paid
    assert GiftSend.objects.get().sender_id == sender.pk
    assert coins_balance(user_id=victim.pk) == 500


def test_adult_born_today_eighteen_years_ago_may_send(stream, gift, post_gift):
    today = timezone.localdate()
    adult = UserFactory(date_of_birth=date(today.year - 18, today.month, min(today.day, 28)))
    fund(adult, 100)
    assert post_gift(adult, stream=stream.pk, gift=gift.pk).status_code == 201


@pytest.mark.parametrize("field", ["stream", "gift"])
def test_an_id_beyond_the_database_range_is_a_validation_error_not_a_crash(sender, stream, gift, auth_client, field):
    # given an id no row can have (PostgreSQL's bigint ends at 2**63 - 1)
    body = {"stream": stream.pk, "gift": gift.pk, field: 2**63}

    response = auth_client(sender).post("/api/v1/gifts/send/", body, format="json", HTTP_IDEMPOTENCY_KEY="big-id")

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid" and field in response.json()["details"]
    _nothing_written(sender, 1_000)
