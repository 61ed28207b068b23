"""A password change, a ban or logout-everywhere end the user's room sessions at once: the old
token no longer opens a room, and the sockets already open close (4001, or 4003 for a ban)."""

import pytest

from apps.accounts.services import tokens_issue, user_ban, user_change_password, user_revoke_all_sessions
from tests.accounts.factories import TEST_PASSWORD, UserFactory
from tests.live.factories import LiveStreamFactory
from tests.live.wsclient import Room, in_thread, run_scenario

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def change_password(user) -> None:
    user_change_password(user=user, old_password=TEST_PASSWORD, new_password="sagarmatha-sunrise-8848")


def ban(user) -> None:
    user_ban(user=user, days=3, reason="abuse")


def logout_everywhere(user) -> None:
    user_revoke_all_sessions(user=user)


@pytest.mark.parametrize(
    ("revoke", "reason", "code"),
    [(change_password, "session_revoked", 4001), (ban, "banned", 4003), (logout_everywhere, "session_revoked", 4001)],
)
def test_open_sockets_close_and_the_old_token_is_refused(daphne_server, revoke, reason, code):
    # given a viewer in a room on two devices, and another viewer
    stream = LiveStreamFactory()
    viewer, other = UserFactory(), UserFactory()
    old_access = tokens_issue(user=viewer)["access"]
    other_access = tokens_issue(user=other)["access"]

    async def join(access: str) -> Room:
        room = await Room.open(daphne_server.ws, stream.pk, access)
        assert (await room.next())["type"] == "room.welcome"
        return room

    async def scenario():
        phone, tablet, bystander = await join(old_access), await join(old_access), await join(other_access)

        # when the viewer's sessions are revoked
        await in_thread(revoke, viewer)

        # then both their sockets are told why and closed with the documented code; the other stays
        for room in (phone, tablet):
            assert (await room.next("session.closed"))["payload"]["reason"] == reason
            assert await room.close_code() == code
        await bystander.send("chat.send", {"text": "still here"})
        assert (await bystander.next("chat.message"))["payload"]["text"] == "still here"

        # and the old token no longer opens the room
        again = await Room.open(daphne_server.ws, stream.pk, old_access)
        assert (await again.next())["payload"]["code"] == "not_authenticated"
        assert await again.close_code() == 4001
        await bystander.close()

    run_scenario(scenario)


def test_a_new_login_after_logout_everywhere_joins(daphne_server):
    stream = LiveStreamFactory()
    viewer = UserFactory()
    user_revoke_all_sessions(user=viewer)
    fresh = tokens_issue(user=viewer)["access"]

    async def scenario():
        room = await Room.open(daphne_server.ws, stream.pk, fresh)
        assert (await room.next())["type"] == "room.welcome"
        await room.close()

    run_scenario(scenario)
