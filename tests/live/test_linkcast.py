"""LinkCast: two live hosts on a shared channel; every change reaches both rooms."""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone
from rest_framework_simplejwt.tokens import AccessToken

from apps.gifts.services import gift_send
from apps.live.models import LinkCast, PkBattle
from apps.live.services import linkcast_invite, pk_end, stream_end
from tests.accounts.factories import UserFactory
from tests.gifts.factories import GiftFactory
from tests.live.agora_verify import PUBLISH_AUDIO, verify_006
from tests.live.factories import LiveStreamFactory
from tests.live.wsclient import Room, in_thread, run_scenario
from tests.wallet.factories import fund

APP = "970CA35de60c44645bbae8a215061b33"
CERT = "5CFd2fd1755d40ecb72977518be15d3b"


@pytest.mark.django_db
@override_settings(AGORA_APP_ID=APP, AGORA_APP_CERTIFICATE=CERT)
def test_invite_accept_tokens_audio_and_leave(auth_client):
    main, guest = LiveStreamFactory(), LiveStreamFactory()
    viewer = UserFactory()
    a, b = auth_client(main.host), auth_client(guest.host)

    # invite: only a live host can invite, and not twice
    not_live = auth_client(viewer).post("/api/v1/streams/linkcasts/", {"guest_stream_id": guest.pk}, format="json")
    assert not_live.status_code == 409 and not_live.json()["code"] == "stream_not_live"
    invited = a.post("/api/v1/streams/linkcasts/", {"guest_stream_id": guest.pk}, format="json")
    assert invited.status_code == 201 and invited.json()["status"] == "invited"
    linkcast_id = invited.json()["id"]
    again = a.post("/api/v1/streams/linkcasts/", {"guest_stream_id": guest.pk}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "linkcast_refused"

    # only the guest accepts; then both get publisher tokens for the shared channel
    assert a.post(f"/api/v1/streams/linkcasts/{linkcast_id}/accept/").status_code == 403
    accepted = b.post(f"/api/v1/streams/linkcasts/{linkcast_id}/accept/").json()
    channel = accepted["linkcast"]["channel"]
    assert accepted["linkcast"]["status"] == "active" and channel.startswith("lc")
    assert [h["user"]["id"] for h in accepted["linkcast"]["hosts"]] == [main.host_id, guest.host_id]
    guest_token = accepted["agora"]
    decoded = verify_006(guest_token["token"], app_id=APP, certificate=CERT, channel=channel, uid=guest.host_id)
    assert guest_token["role"] == "publisher" and PUBLISH_AUDIO in decoded.privileges
    assert a.post(f"/api/v1/streams/linkcasts/{linkcast_id}/token/").json()["role"] == "publisher"
    assert auth_client(viewer).post(f"/api/v1/streams/linkcasts/{linkcast_id}/token/").status_code == 403
    # viewers of either stream get a subscriber token for the shared channel
    viewer_tokens = auth_client(viewer).post(f"/api/v1/streams/{guest.pk}/token/").json()
    assert viewer_tokens["linkcast_rtc"]["channel"] == channel
    assert viewer_tokens["linkcast_rtc"]["role"] == "subscriber"
    assert auth_client(viewer).get(f"/api/v1/streams/{main.pk}/").json()["linkcast"]["id"] == linkcast_id

    # audio: each host mutes themself; the main host may mute the guest, not the other way round
    muted = b.post(f"/api/v1/streams/linkcasts/{linkcast_id}/audio/", {"muted": True}, format="json").json()
    assert [h["audio_muted"] for h in muted["hosts"]] == [False, True]
    body = {"user_id": guest.host_id, "muted": False}
    assert a.post(f"/api/v1/streams/linkcasts/{linkcast_id}/audio/", body, format="json").status_code == 200
    body = {"user_id": main.host_id, "muted": True}
    refused = b.post(f"/api/v1/streams/linkcasts/{linkcast_id}/audio/", body, format="json")
    assert refused.status_code == 403 and refused.json()["code"] == "not_stream_host"

    # leaving returns both to solo
    left = b.post(f"/api/v1/streams/linkcasts/{linkcast_id}/leave/").json()
    assert left["status"] == "ended"
    assert auth_client(viewer).get(f"/api/v1/streams/{main.pk}/").json()["linkcast"] is None
    assert auth_client(viewer).post(f"/api/v1/streams/{guest.pk}/token/").json()["linkcast_rtc"] is None


@pytest.mark.django_db
def test_decline_and_ending_a_stream_closes_its_linkcast(auth_client):
    main, guest = LiveStreamFactory(), LiveStreamFactory()
    linkcast = linkcast_invite(user=main.host, guest_stream_id=guest.pk)
    assert auth_client(guest.host).post(f"/api/v1/streams/linkcasts/{linkcast.pk}/decline/").json()["status"] == (
        "declined"
    )
    second = linkcast_invite(user=main.host, guest_stream_id=guest.pk)
    auth_client(guest.host).post(f"/api/v1/streams/linkcasts/{second.pk}/accept/")
    stream_end(stream_id=guest.pk)
    second.refresh_from_db()
    assert (second.status, second.end_reason) == (LinkCast.Status.ENDED, "stream_ended")


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_both_rooms_hear_every_linkcast_change(daphne_server, auth_client):
    main, guest = LiveStreamFactory(), LiveStreamFactory()
    viewer = UserFactory()
    a, b = auth_client(main.host), auth_client(guest.host)

    async def open_room(stream, user) -> Room:
        room = await Room.open(daphne_server.ws, stream.pk, str(AccessToken.for_user(user)))
        await room.next("room.welcome")
        return room

    async def scenario():
        main_viewer = await open_room(main, viewer)
        guest_host = await open_room(guest, guest.host)
        invited = await in_thread(a.post, "/api/v1/streams/linkcasts/", {"guest_stream_id": guest.pk}, format="json")
        linkcast_id = invited.json()["id"]
        invitation = await guest_host.next("linkcast.invited")
        assert invitation["payload"]["from"]["id"] == main.host_id

        await in_thread(b.post, f"/api/v1/streams/linkcasts/{linkcast_id}/accept/")
        for room in (main_viewer, guest_host):
            started = await room.next("linkcast.started")
            assert {h["stream_id"] for h in started["payload"]["hosts"]} == {main.pk, guest.pk}

        body = {"user_id": guest.host_id, "muted": True}
        await in_thread(a.post, f"/api/v1/streams/linkcasts/{linkcast_id}/audio/", body, format="json")
        for room in (main_viewer, guest_host):
            audio = await room.next("linkcast.audio")
            assert audio["payload"] == {
                "linkcast_id": linkcast_id,
                "user_id": guest.host_id,
                "muted": True,
                "by": main.host_id,
            }

        await in_thread(a.post, f"/api/v1/streams/linkcasts/{linkcast_id}/leave/")
        for room in (main_viewer, guest_host):
            assert (await room.next("linkcast.ended"))["payload"]["reason"] == "left"
            await room.close()

    run_scenario(scenario)


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_hosts_hear_invitations_close_and_both_rooms_follow_a_pk_battle(daphne_server, auth_client):
    # given two live hosts with their room sockets open, a viewer of the main stream and a funded fan
    main, guest = LiveStreamFactory(), LiveStreamFactory()
    viewer, fan = UserFactory(), UserFactory()
    gift = GiftFactory(name="Rose", coin_price=10)
    fund(fan, 1_000)
    a, b = auth_client(main.host), auth_client(guest.host)

    async def open_room(stream, user) -> Room:
        room = await Room.open(daphne_server.ws, stream.pk, str(AccessToken.for_user(user)))
        await room.next("room.welcome")
        return room

    async def invite() -> int:
        response = await in_thread(a.post, "/api/v1/streams/linkcasts/", {"guest_stream_id": guest.pk}, format="json")
        assert response.status_code == 201, response.json()
        return response.json()["id"]

    async def both_hear(event_type: str, rooms) -> list[dict]:
        return [(await room.next(event_type))["payload"] for room in rooms]

    async def scenario():
        main_host, guest_host = await open_room(main, main.host), await open_room(guest, guest.host)
        main_viewer = await open_room(main, viewer)
        hosts = (main_host, guest_host)

        # when an invitation is declined, withdrawn, and left to expire, both hosts hear each
        declined = await invite()
        await in_thread(b.post, f"/api/v1/streams/linkcasts/{declined}/decline/")
        assert {p["linkcast_id"] for p in await both_hear("linkcast.declined", hosts)} == {declined}
        withdrawn = await invite()
        await in_thread(a.post, f"/api/v1/streams/linkcasts/{withdrawn}/leave/")
        assert {p["reason"] for p in await both_hear("linkcast.cancelled", hosts)} == {"left"}
        stale = await invite()
        old = timezone.now() - timedelta(hours=1)
        await in_thread(lambda: LinkCast.objects.filter(pk=stale).update(created_at=old))
        linkcast_id = await invite()  # finds the stale one expired
        assert {p["linkcast_id"] for p in await both_hear("linkcast.expired", hosts)} == {stale}

        # and when the last one is accepted and a PK battle runs with a gift, both rooms follow it
        await in_thread(b.post, f"/api/v1/streams/linkcasts/{linkcast_id}/accept/")
        await both_hear("linkcast.started", (main_viewer, guest_host))
        started = await in_thread(
            a.post, f"/api/v1/streams/linkcasts/{linkcast_id}/pk/", {"duration_seconds": 60}, format="json"
        )
        assert started.status_code == 201, started.json()
        await both_hear("pk.started", (main_viewer, guest_host))
        await in_thread(gift_send, sender_id=fan.pk, stream_id=guest.pk, gift_id=gift.pk, quantity=2)
        scores = await both_hear("pk.score", (main_viewer, guest_host))
        assert [side["coins"] for side in scores[0]["sides"]] == [0, 20]
        battle = started.json()["id"]
        await in_thread(lambda: PkBattle.objects.filter(pk=battle).update(ends_at=timezone.now()))
        await in_thread(pk_end, battle_id=battle)
        for ended in await both_hear("pk.ended", (main_viewer, guest_host)):
            assert ended["status"] == "ended" and ended["winner_id"] == guest.host_id

        # and the host's pin and unpin reach the room
        await main_host.send("chat.send", {"text": "pin me"})
        message = (await main_viewer.next("chat.message"))["payload"]
        await main_host.send("host.pin", {"message_id": message["id"]})
        assert (await main_viewer.next("chat.pinned"))["payload"]["message"] == message
        await main_host.send("host.unpin")
        assert (await main_viewer.next("chat.unpinned"))["payload"] == {}
        for room in (main_host, guest_host, main_viewer):
            await room.close()

    run_scenario(scenario)
