"""LinkCast: two live hosts on a shared channel; every change reaches both rooms."""

import pytest
from django.test import override_settings
from rest_framework_simplejwt.tokens import AccessToken

from apps.live.models import LinkCast
from apps.live.services import linkcast_invite, stream_end
from tests.accounts.factories import UserFactory
from tests.live.agora_verify import PUBLISH_AUDIO, verify_006
from tests.live.factories import LiveStreamFactory
from tests.live.wsclient import Room, in_thread, run_scenario

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
