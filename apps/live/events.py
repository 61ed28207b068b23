"""Room events: the one way any app tells a stream's room that something happened.

Every event is `{"type": <event type>, "payload": {...}}` on the wire. Sending happens after the
surrounding transaction commits, so a rollback announces nothing.

With a Redis channel layer, messages leave through one background event loop per process, in the
order they were sent: `async_to_sync` would start a loop (and the pub/sub layer a new Redis
connection) for every message, which cost a gift send about 3 ms. The in-memory layer of the
embedded default lives in the server's own loop, so it is reached with `async_to_sync` as before.
Room events queued together for one group travel as one `room.events` layer message; the rooms
split them again (`layer_message_events`), so clients see the same frames either way.

Gifts are announced with `gift_event_publish`: a large gift is its own `gift.sent`; any other send
is counted in its streak (apps.live.combos) by the same thread, a batch of sends in one Redis round
trip, and the room hears the streak's `gift.combo` frames instead.
"""

import asyncio
import atexit
import logging
import os
import threading
import time
from collections.abc import Iterable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import transaction

from apps.live.combos import ComboSend, combo_sends_note, combos_enabled, gift_is_large
from apps.live.room_state import RedisRoomState, room_state

logger = logging.getLogger(__name__)


class _LayerSender:
    """A daemon thread with its own event loop that sends layer messages in the order they came.

    Messages queued while it is busy go out together: consecutive room events for one group become
    one `room.events` message (a popular host's burst of gifts is one Redis publish and one message
    for every daphne), and a burst costs one wake-up of the thread rather than one per message.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._pending: list[tuple[str, dict[str, Any]]] = []
        self._idle = True  # nothing pending and nothing being sent

    def _ensure_started(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                return  # started in this process (a fork must start its own: threads do not survive it)
            loop = asyncio.new_event_loop()
            started = threading.Event()

            def run() -> None:
                asyncio.set_event_loop(loop)
                self._wake = wake = asyncio.Event()
                started.set()
                loop.run_until_complete(self._drain(wake))

            # A forked child holds a copy of its parent's queue: the parent sends those.
            self._pending, self._idle = [], True
            threading.Thread(target=run, name="layer-sender", daemon=True).start()
            started.wait()
            self._loop, self._pid = loop, os.getpid()

    async def _drain(self, wake: asyncio.Event) -> None:
        while True:
            await wake.wait()
            wake.clear()
            while True:
                with self._lock:
                    batch, self._pending = self._pending, []
                    if not batch:
                        self._idle = True
                        break
                batch = await _combo_notes_resolve(batch)
                for group, message in layer_messages_coalesce(batch):
                    try:
                        await get_channel_layer().group_send(*layer_route(group, message))
                    except Exception:  # the write behind it committed; a lost broadcast must not stop the next
                        logger.exception("layer message not delivered", extra={"group": group})

    def send(self, group: str, message: dict[str, Any]) -> None:
        self._ensure_started()
        with self._lock:
            self._pending.append((group, message))
            wake, self._idle = self._idle, False
        if wake:
            loop, wake_event = self._loop, self._wake
            assert loop is not None and wake_event is not None  # _ensure_started set both
            loop.call_soon_threadsafe(wake_event.set)

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until every message queued so far has been handed to the layer."""
        if self._pid != os.getpid():
            return
        deadline = time.monotonic() + timeout
        while not self._idle:
            if time.monotonic() > deadline:
                raise TimeoutError("layer messages still queued")
            time.sleep(0.005)


# A committed send to count in its streak: it stays in this process (the sender thread turns it into
# the streak's `gift.combo` frames, if any are due) and never reaches the layer.
COMBO_NOTE = "gift.combo.note"


async def _combo_notes_resolve(batch: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    """Replace the batch's combo notes by the frames their streaks show now, in place (so the room
    hears them in commit order among the other events). Should Redis fail, each send is announced
    as its own `gift.sent`: the room still sees every gift."""
    notes = [i for i, (_, message) in enumerate(batch) if message.get("type") == COMBO_NOTE]
    if not notes:
        return batch
    sends: list[ComboSend] = [batch[i][1]["send"] for i in notes]
    shown: dict[int, list[dict[str, Any]]] = {i: [] for i in notes}
    try:
        state = room_state()
        assert isinstance(state, RedisRoomState)  # combos_enabled() needs REDIS_URL
        for number, payload in await combo_sends_note(state.redis, sends):
            shown[notes[number]].append(payload)
    except Exception:
        logger.exception("gift combos not counted: each send is announced alone")
        return [
            (group, room_event_message("gift.sent", message["send"].sent_payload()))
            if message.get("type") == COMBO_NOTE
            else (group, message)
            for group, message in batch
        ]
    resolved: list[tuple[str, dict[str, Any]]] = []
    for i, (group, message) in enumerate(batch):
        if i in shown:
            resolved += [(group, room_event_message("gift.combo", payload)) for payload in shown[i]]
        else:
            resolved.append((group, message))
    return resolved


def layer_messages_coalesce(messages: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    """Merge each run of consecutive room events for one group into one `room.events` message;
    everything else, and the order within every group, stays as it was."""
    merged: list[tuple[str, dict[str, Any]]] = []
    for group, message in messages:
        events = layer_message_events(message)
        if events is not None and merged and merged[-1][0] == group:
            last = merged[-1][1]
            if last.get("type") == "room.event":
                last = {"type": "room.events", "events": [last["event"]]}
                merged[-1] = (group, last)
            if last.get("type") == "room.events":
                last["events"].extend(events)
                continue
        merged.append((group, message))
    return merged


def layer_message_events(message: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The room events a layer message carries (`room.event`: one; `room.events`: several), or None
    for other messages (`session.close`)."""
    kind = message.get("type")
    if kind == "room.event":
        return [message["event"]]
    if kind == "room.events":
        return list(message["events"])
    return None


_sender = _LayerSender()


@atexit.register
def layer_messages_flush(timeout: float = 5.0) -> None:
    """Deliver what is queued before the process exits (management commands, tests, benchmarks)."""
    try:
        _sender.flush(timeout)
    except Exception:
        logger.warning("layer messages still queued at exit")


def group_send(group: str, message: dict[str, Any]) -> None:
    """Send one layer message to a group from synchronous code, in order."""
    layer = get_channel_layer()
    if isinstance(layer, InMemoryChannelLayer):
        async_to_sync(layer.group_send)(*layer_route(group, message))
    else:
        _sender.send(group, message)


def group_send_on_commit(group: str, message: dict[str, Any]) -> None:
    """group_send after the current transaction commits (at once outside one); never raises."""

    def send() -> None:
        try:
            group_send(group, message)
        except Exception:
            logger.exception("layer message not delivered", extra={"group": group})

    transaction.on_commit(send)


def stream_group_name(stream_id: int) -> str:
    return f"stream_{stream_id}"


def room_event_message(event_type: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The layer message of one room event (what `room_event_publish` sends)."""
    return {"type": "room.event", "event": {"type": event_type, "payload": payload}}


def room_event_publish(*, stream_id: int, event_type: str, payload: dict[str, Any]) -> None:
    """Broadcast after the current transaction commits (immediately when there is none)."""
    group_send_on_commit(stream_group_name(stream_id), room_event_message(event_type, payload))


def gift_event_publish(*, send: ComboSend) -> None:
    """After commit, announce a gift send to its room: a large gift (LIVE_GIFT_LARGE_COINS), or
    any gift when combos are off, as its own `gift.sent`; any other as part of its streak's
    `gift.combo` (apps.live.combos)."""
    if (
        not combos_enabled()
        or isinstance(get_channel_layer(), InMemoryChannelLayer)
        or gift_is_large(quantity=send.quantity, coins=send.coins)
    ):
        room_event_publish(stream_id=send.stream_id, event_type="gift.sent", payload=send.sent_payload())
        return
    group_send_on_commit(stream_group_name(send.stream_id), {"type": COMBO_NOTE, "send": send})


def rooms_event_publish(*, stream_ids: Iterable[int], event_type: str, payload: dict[str, Any]) -> None:
    """`room_event_publish` to several rooms (both streams of a LinkCast)."""
    for stream_id in stream_ids:
        room_event_publish(stream_id=stream_id, event_type=event_type, payload=payload)


# A user's room sockets are addressed as `user_<id>`, but no layer group has that name: such messages
# travel on the one group USERS_GROUP, carrying `user_id`, and each daphne process hands them to that
# user's local sockets (apps.live.fanout.LocalUsers). A process then subscribes once for all its
# users, instead of twice (a channel and a group) on every user's first connect.
USER_GROUP_PREFIX = "user_"
USERS_GROUP = "live_users"


def user_group_name(user_id: int) -> str:
    """The address of every room socket of a user (a ban or kick reaches all of them): see layer_route."""
    return f"{USER_GROUP_PREFIX}{user_id}"


def layer_route(group: str, message: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The layer group and message for a message addressed to `group`: a user's address goes to
    USERS_GROUP with the user's id in the message; a room's group is a layer group itself."""
    if group.startswith(USER_GROUP_PREFIX):
        return USERS_GROUP, {**message, "user_id": int(group.removeprefix(USER_GROUP_PREFIX))}
    return group, message


def user_sockets_close(*, user_id: int, reason: str, stream_id: int | None = None) -> None:
    """After commit, close the user's room sockets (all rooms, or one stream's): bans, kicks, suspensions."""
    group_send_on_commit(user_group_name(user_id), {"type": "session.close", "reason": reason, "stream_id": stream_id})


def room_sockets_close(*, stream_id: int, reason: str) -> None:
    """After commit, tell every socket of the stream's room why and close it (the stream ended)."""
    group_send_on_commit(
        stream_group_name(stream_id), {"type": "session.close", "reason": reason, "stream_id": stream_id}
    )


def user_event_publish(*, user_id: int, event_type: str, payload: dict[str, Any]) -> None:
    """After commit, send an event to every room socket of one user (invitations meant for a host)."""
    group_send_on_commit(user_group_name(user_id), room_event_message(event_type, payload))
