"""Listening to rooms on the real channel layer, as a daphne process does (the `room_listener` fixture)."""

import asyncio
import itertools
import json
import threading
import time
from typing import Any

from channels.layers import InMemoryChannelLayer, get_channel_layer

from apps.live.events import (
    USERS_GROUP,
    group_send,
    layer_message_events,
    layer_messages_flush,
    layer_route,
    user_group_name,
)
from tests.live.room_contract import room_frame_check

MARKER = "test.listener.marker"


def _contract_broken(event: dict[str, Any]) -> str | None:
    """Why a room event, encoded as the sockets get it, breaks the room contract (None: it keeps it)."""
    try:
        room_frame_check(json.loads(json.dumps(event)))
    except (AssertionError, TypeError) as exc:  # TypeError: not JSON at all
        return str(exc)
    return None


class RoomListener:
    """Subscribes to channel-layer groups (stream rooms `stream_<id>`, a user's sockets `user_<id>`)
    from a thread with its own event loop, so a test
    calls the services as they run in production (events sent after commit, through the process's
    layer sender) and then asks what each room heard.

    `heard()` first sends a marker to every room through the same sender and waits until each came
    back: everything published before it has arrived by then, so "nothing more was heard" is a
    real assertion and not a guess about timing. It also fails on any room event heard that breaks
    the room contract (tests/live/room_contract.py), as the frame a socket would get.
    """

    def __init__(self, groups: list[str]) -> None:
        if isinstance(get_channel_layer(), InMemoryChannelLayer):
            raise RuntimeError("room listeners need the Redis channel layer (the tests run with REDIS_URL)")
        self.groups = list(groups)
        self._events: list[tuple[str, str, Any]] = []
        self._broken: list[str] = []  # room events that break the contract (checked in the listener's thread)
        self._markers: dict[str, int] = {}
        self._serial = itertools.count(1)
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="room-listener", daemon=True)
        self._channels: dict[str, str] = {}
        self._tasks: list[asyncio.Task] = []

    def start(self) -> "RoomListener":
        layer_messages_flush()  # what was sent before listening stays unheard
        self._thread.start()
        self._run(self._subscribe())
        self.heard()  # the subscriptions are live once a marker came back through each
        with self._lock:
            self._events.clear()
        return self

    def heard(self, event_type: str | None = None, timeout: float = 10.0) -> list[tuple[str, str, Any]]:
        """(group, event type, payload) of everything heard so far, in order per group. Messages that
        are no room event (`session.close`) come as (group, their type, the whole message)."""
        serial = next(self._serial)
        layer_messages_flush()
        for group in self.groups:
            group_send(group, {"type": MARKER, "serial": serial})
        deadline = time.monotonic() + timeout
        while any(self._markers.get(group, 0) < serial for group in self.groups):
            if time.monotonic() > deadline:
                raise TimeoutError("the rooms did not hear the listener's marker")
            time.sleep(0.005)
        with self._lock:
            assert not self._broken, "\n".join(self._broken)
            return [event for event in self._events if event_type is None or event[1] == event_type]

    def stop(self) -> None:
        if self._thread.is_alive():
            self._run(self._unsubscribe())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
        self._loop.close()

    def _run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)

    async def _subscribe(self) -> None:
        """One layer channel per layer group: a user's address `user_<id>` is heard on USERS_GROUP
        (apps.live.events.layer_route), so the messages there are told apart by their `user_id`."""
        layer = get_channel_layer()
        for layer_group in dict.fromkeys(layer_route(group, {})[0] for group in self.groups):
            channel = await layer.new_channel()
            await layer.group_add(layer_group, channel)
            self._channels[layer_group] = channel
            self._tasks.append(asyncio.ensure_future(self._receive(layer_group, channel)))

    async def _receive(self, layer_group: str, channel: str) -> None:
        layer = get_channel_layer()
        while True:
            message = await layer.receive(channel)
            group = layer_group
            if layer_group == USERS_GROUP:  # as a user's sockets get it: by its address, without the routing
                message = dict(message)
                group = user_group_name(message.pop("user_id"))
                if group not in self.groups:
                    continue
            if message.get("type") == MARKER:
                self._markers[group] = message["serial"]
                continue
            events = layer_message_events(message)
            with self._lock:
                if events is None:  # session.close and other non-event messages
                    self._events.append((group, message["type"], message))
                else:
                    self._events.extend((group, event["type"], event["payload"]) for event in events)
                    self._broken.extend(filter(None, map(_contract_broken, events)))

    async def _unsubscribe(self) -> None:
        layer = get_channel_layer()
        for task in self._tasks:
            task.cancel()
        for group, channel in self._channels.items():
            await layer.group_discard(group, channel)
        await layer.flush()
