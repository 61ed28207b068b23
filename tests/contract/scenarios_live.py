"""Live: going live, the active list, joining and leaving a room, tokens, LinkCasts, PK battles and
scheduled streams."""

from datetime import timedelta

from django.utils import timezone

from tests.accounts.factories import UserFactory
from tests.contract.runner import Contract
from tests.contract.scenarios import drives
from tests.live.factories import CategoryFactory, LiveStreamFactory

UNKNOWN = 10**9


@drives("streams_go_live", "streams_heartbeat", "streams_end")
def hosting(contract: Contract) -> None:
    host, viewer = UserFactory(), UserFactory()
    client = contract.as_user(host)
    CategoryFactory(slug="music")
    unknown = contract.body("streams_go_live", {"title": "Evening songs", "category": "karaoke"})
    contract.call("streams_go_live", client, status=400, code="category_unknown", body=unknown)
    go_live = contract.body("streams_go_live", {"title": "Evening songs", "category": "music"})
    session = contract.call("streams_go_live", client, status=201, body=go_live)
    contract.call("streams_go_live", client, status=409, code="already_live", body=go_live)
    contract.call("streams_heartbeat", client, status=200, stream_id=session.stream.id)
    contract.call(
        "streams_heartbeat", contract.as_user(viewer), status=403, code="not_stream_host", stream_id=session.stream.id
    )
    contract.call(
        "streams_end", contract.as_user(viewer), status=403, code="not_stream_host", stream_id=session.stream.id
    )
    contract.call("streams_end", client, status=200, stream_id=session.stream.id)


@drives("streams_active", "streams_detail", "streams_join", "streams_leave", "streams_token")
def watching(contract: Contract) -> None:
    viewer, stream = UserFactory(), LiveStreamFactory()
    client = contract.as_user(viewer)
    contract.call("streams_active", client, status=200)
    contract.call("streams_active", client, status=400, code="invalid", limit=0)
    contract.call("streams_detail", client, status=200, stream_id=stream.pk)
    contract.call("streams_detail", client, status=404, code="not_found", stream_id=UNKNOWN)
    contract.call("streams_join", client, status=200, stream_id=stream.pk)
    contract.call("streams_join", client, status=404, code="not_found", stream_id=UNKNOWN)
    contract.call("streams_token", client, status=200, stream_id=stream.pk)
    contract.call("streams_token", client, status=404, code="not_found", stream_id=UNKNOWN)
    contract.call("streams_leave", client, status=204, stream_id=stream.pk)
    contract.call("streams_leave", client, status=404, code="not_found", stream_id=UNKNOWN)


@drives(
    "linkcast_invite",
    "linkcast_detail",
    "linkcast_accept",
    "linkcast_token",
    "linkcast_audio",
    "linkcast_pk_start",
    "linkcast_pk_current",
    "linkcast_leave",
    "linkcast_decline",
)
def linkcasts(contract: Contract) -> None:
    main, guest, third = LiveStreamFactory(), LiveStreamFactory(), LiveStreamFactory()
    viewer = UserFactory()
    a, b, c = contract.as_user(main.host), contract.as_user(guest.host), contract.as_user(third.host)
    invite = contract.body("linkcast_invite", {"guest_stream_id": guest.pk})
    contract.call("linkcast_invite", contract.as_user(viewer), status=409, code="stream_not_live", body=invite)
    linkcast = contract.call("linkcast_invite", a, status=201, body=invite)
    contract.call("linkcast_detail", a, status=200, linkcast_id=linkcast.id)
    contract.call("linkcast_detail", a, status=404, code="not_found", linkcast_id=UNKNOWN)
    contract.call("linkcast_accept", a, status=403, linkcast_id=linkcast.id)
    contract.call("linkcast_accept", b, status=200, linkcast_id=linkcast.id)
    contract.call("linkcast_token", a, status=200, linkcast_id=linkcast.id)
    contract.call("linkcast_token", contract.as_user(viewer), status=403, linkcast_id=linkcast.id)
    mute = contract.body("linkcast_audio", {"muted": True})
    contract.call("linkcast_audio", b, status=200, linkcast_id=linkcast.id, body=mute)
    mute_main = contract.body("linkcast_audio", {"user_id": main.host_id, "muted": True})
    contract.call("linkcast_audio", b, status=403, code="not_stream_host", linkcast_id=linkcast.id, body=mute_main)
    contract.call("linkcast_pk_current", a, status=200, linkcast_id=linkcast.id)
    contract.call("linkcast_pk_current", a, status=404, code="not_found", linkcast_id=UNKNOWN)
    bad_duration = contract.body("linkcast_pk_start", {"duration_seconds": 7})
    contract.call(
        "linkcast_pk_start", a, status=400, code="pk_duration_invalid", linkcast_id=linkcast.id, body=bad_duration
    )
    contract.call(
        "linkcast_pk_start", a, status=201, linkcast_id=linkcast.id, body=contract.body("linkcast_pk_start", {})
    )
    contract.call("linkcast_leave", b, status=200, linkcast_id=linkcast.id)
    contract.call("linkcast_leave", b, status=404, code="not_found", linkcast_id=UNKNOWN)

    declined = contract.call(
        "linkcast_invite", c, status=201, body=contract.body("linkcast_invite", {"guest_stream_id": main.pk})
    )
    contract.call("linkcast_decline", c, status=403, linkcast_id=declined.id)
    contract.call("linkcast_decline", a, status=200, linkcast_id=declined.id)


@drives("room_moderator_list", "room_moderator_add", "room_moderator_remove")
def room_moderators(contract: Contract) -> None:
    host, user = UserFactory(), UserFactory()
    client = contract.as_user(host)
    appoint = contract.body("room_moderator_add", {"user_id": user.pk})
    contract.call("room_moderator_add", client, status=201, body=appoint)
    contract.call("room_moderator_add", client, status=200, body=appoint)
    myself = contract.body("room_moderator_add", {"user_id": host.pk})
    contract.call("room_moderator_add", client, status=400, code="room_moderator_invalid", body=myself)
    contract.call("room_moderator_list", client, status=200)
    contract.call("room_moderator_remove", client, status=204, user_id=user.pk)
    contract.call("room_moderator_remove", client, status=404, code="not_found", user_id=user.pk)


@drives(
    "schedule_create",
    "schedule_list",
    "schedule_list_mine",
    "schedule_detail",
    "schedule_update",
    "schedule_cancel",
    "schedule_subscribe",
    "schedule_unsubscribe",
)
def scheduling(contract: Contract) -> None:
    host, fan = UserFactory(), UserFactory()
    client, fan_client = contract.as_user(host), contract.as_user(fan)
    tomorrow = timezone.now() + timedelta(days=1)
    create = contract.body("schedule_create", {"title": "Tihar songs", "starts_at": tomorrow.isoformat()})
    schedule = contract.call("schedule_create", client, status=201, body=create)
    too_soon = contract.body("schedule_create", {"title": "Now", "starts_at": timezone.now().isoformat()})
    contract.call("schedule_create", client, status=400, code="schedule_time_invalid", body=too_soon)
    contract.call("schedule_list", fan_client, status=200, host=host.username)
    contract.call("schedule_list", fan_client, status=404, code="not_found", host="nobody-here")
    contract.call("schedule_list_mine", client, status=200)
    contract.call("schedule_detail", fan_client, status=200, schedule_id=schedule.id)
    contract.call("schedule_detail", fan_client, status=404, code="not_found", schedule_id=UNKNOWN)
    contract.call("schedule_subscribe", fan_client, status=201, schedule_id=schedule.id)
    contract.call("schedule_subscribe", fan_client, status=200, schedule_id=schedule.id)
    contract.call("schedule_subscribe", client, status=400, code="schedule_own_subscription", schedule_id=schedule.id)
    contract.call("schedule_unsubscribe", fan_client, status=204, schedule_id=schedule.id)
    rename = contract.body("schedule_update", {"title": "Tihar songs, live"})
    contract.call("schedule_update", fan_client, status=404, code="not_found", schedule_id=schedule.id, body=rename)
    contract.call("schedule_update", client, status=200, schedule_id=schedule.id, body=rename)
    contract.call("schedule_cancel", client, status=200, schedule_id=schedule.id)
    contract.call("schedule_update", client, status=409, code="schedule_closed", schedule_id=schedule.id, body=rename)
    contract.call("schedule_subscribe", fan_client, status=409, code="schedule_closed", schedule_id=schedule.id)


@drives("categories_list", "streams_trending")
def discovery(contract: Contract) -> None:
    CategoryFactory(slug="music", name_en="Music", name_ne="संगीत")
    viewer = UserFactory()
    LiveStreamFactory(category="music", current_viewers=10)
    LiveStreamFactory(category="music", current_viewers=5)
    client = contract.as_user(viewer)
    contract.call("categories_list", client, status=200)
    first = contract.call("streams_trending", client, status=200, limit=1)
    contract.call("streams_trending", client, status=200, limit=1, cursor=first.next_cursor)
    contract.call("streams_trending", client, status=400, code="invalid_cursor", cursor="not-a-cursor")
    contract.call("streams_trending", client, status=400, code="invalid", limit=0)
