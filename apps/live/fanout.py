"""Per-process fan-out: a daphne process listens to each room group once, and once to all its users.

When every socket was its own member of `stream_<id>`, one chat message in a 1,000-viewer room
cost each process 1,000 channel-layer deliveries, 1,000 consumer dispatches and 1,000 JSON
encodes, and the server fell behind at ~2,900 deliveries/s. Now a process holds one layer channel
per group it has sockets for, read by one task: the room encodes an event once and writes the
same text frame to each of its local sockets, in the order the layer delivered the messages.

Groups and layer messages are unchanged (apps.live.events), so any number of daphne processes
can hold sockets of the same room; the embedded default's in-memory layer works the same way.

`LocalRoom` is one room's engine in a process: its subscription's reader notes chat-rule changes
for the sockets, a writer sends events to every local socket in rounds, and a ticker keeps
presence fresh and broadcasts likes and viewer counts (a Redis lock per round, so several daphne
processes never double up). `LocalUsers` delivers users' events (kicks, bans, invitations): one
subscription to apps.live.events.USERS_GROUP per process, not one per user, so a viewer's connect
costs no subscription once the process holds any socket.
"""

import asyncio
import json
import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, Protocol

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from apps.live.chat import RULE_EVENTS
from apps.live.combos import combos_due, combos_enabled
from apps.live.events import USERS_GROUP, layer_message_events, room_event_message, stream_group_name
from apps.live.room_state import VIEWERS_SAVED, MemoryRoomState, RedisRoomState, room_state
from apps.live.sampling import GIFTER_SECONDS, RANK_ANY, ChatSampler
from apps.live.services import stream_stats_update
from apps.live.wire import frames_prepare, wire_write

logger = logging.getLogger(__name__)

# The core and in-memory layers drop a group member after their group_expiry (a day by default)
# and a process's subscription to a room can outlive that: memberships are renewed every hour.
RENEW_SECONDS = 3600
_active: set["Subscription"] = set()
_renewer: asyncio.Task[None] | None = None


async def _renew_forever() -> None:
    layer = get_channel_layer()
    while True:
        await asyncio.sleep(RENEW_SECONDS)
        for sub in list(_active):
            try:
                await layer.group_add(sub.group, sub.channel)
            except Exception:
                logger.exception("fan-out membership not renewed", extra={"group": sub.group})


def _renewer_ensure() -> None:
    global _renewer
    if not getattr(get_channel_layer(), "group_expiry", None):  # the pub/sub layer: members never expire
        return
    loop = asyncio.get_running_loop()
    if _renewer is None or _renewer.done() or _renewer.get_loop() is not loop:
        _renewer = loop.create_task(_renew_forever(), name="fanout renewals")


class Subscription:
    """One layer channel in one group, read by one task on behalf of the local sockets behind it."""

    def __init__(self, group: str, registry: dict[str, "Subscription"]) -> None:
        self.group = group
        self.channel = ""
        self.sockets: set[Any] = set()
        self._registry = registry
        self._ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"fanout {group}")

    async def handle(self, message: dict[str, Any]) -> None:
        raise NotImplementedError

    def socket_added(self, sock: Any) -> None:
        """`sock` is now one of `sockets` (before the subscription has started, for the first)."""

    def socket_removed(self, sock: Any) -> None:
        """`sock` is no longer one of `sockets`."""

    async def started(self) -> None:
        """Return once the group membership exists (messages sent after this reach us)."""
        await asyncio.shield(self._ready)

    def stop(self) -> None:
        self._forget()
        self._task.cancel()

    def _forget(self) -> None:
        if self._registry.get(self.group) is self:
            del self._registry[self.group]

    async def _run(self) -> None:
        layer = get_channel_layer()
        try:
            channel = await layer.new_channel()
            await layer.group_add(self.group, channel)
        except asyncio.CancelledError:
            self._forget()
            self._ready.cancel()
            raise
        except Exception as exc:  # Redis is down: the sockets waiting in started() get the error
            logger.exception("fan-out subscription failed", extra={"group": self.group})
            self._forget()
            self._ready.set_exception(exc)
            return
        self.channel = channel
        _active.add(self)
        _renewer_ensure()
        self._ready.set_result(None)
        try:
            while True:
                try:
                    message = await layer.receive(channel)
                except asyncio.CancelledError:
                    raise
                except Exception:  # a Redis hiccup: the layer reconnects, keep reading
                    logger.exception("fan-out receive failed", extra={"group": self.group})
                    await asyncio.sleep(0.5)
                    continue
                try:
                    await self.handle(message)
                except Exception:
                    logger.exception("fan-out message failed", extra={"group": self.group})
        finally:
            _active.discard(self)
            try:
                await layer.group_discard(self.group, channel)
            except Exception:  # the membership expires (core layer) or went with the connection
                logger.warning("fan-out group not left", extra={"group": self.group})


async def subscription_join(
    registry: dict[str, Subscription],
    group: str,
    sock: Any,
    factory: Callable[[str, dict[str, Subscription]], Subscription],
) -> Subscription:
    """Add `sock` to this process's subscription to `group`, making it (factory(group, registry)) if needed."""
    sub = registry.get(group)
    if sub is None:
        sub = registry[group] = factory(group, registry)
    sub.sockets.add(sock)
    sub.socket_added(sock)
    try:
        await sub.started()
    except BaseException:
        sub.sockets.discard(sock)
        sub.socket_removed(sock)
        raise
    return sub


def subscription_leave(registry: dict[str, Subscription], group: str, sock: Any) -> Subscription | None:
    """Remove `sock`; the last local socket ends the subscription. Returns it while it still serves others."""
    sub = registry.get(group)
    if sub is None:
        return None
    sub.sockets.discard(sock)
    sub.socket_removed(sock)
    if not sub.sockets:
        sub.stop()
        return None
    return sub


# --- Rooms and users of this process -----------------------------------------------------------


class RoomSocket(Protocol):
    """What the rooms need of a socket (apps.live.consumers.StreamRoomConsumer)."""

    stream_id: int
    user_id: int
    # Gets every chat message even when the room is sampled (apps.live.sampling.chat_sees_everything).
    sees_all_chat: bool
    # Frames that arrive between joining the room and sending the welcome wait here (None: send at once).
    backlog: list[dict[str, Any]] | None
    # daphne's protocol for this socket, written to with prepared frames (apps.live.wire); None: use base_send.
    wire: Any | None

    async def base_send(self, message: dict[str, Any]) -> None: ...
    def rules_note(self, event: dict[str, Any]) -> None: ...
    async def end(self, reason: str) -> None: ...


# A write round lets other work in (chat sends, connects) after this many sockets.
FANOUT_SLICE = 200


async def _frames_to_all(sockets: tuple[RoomSocket, ...], frames: list[dict[str, Any]]) -> None:
    """Write prepared text frames to each socket (held back while its welcome is on the way)."""
    if not frames:
        return
    prepared: list[Any] | None = None  # framed once, on the first socket that can take them
    for i, sock in enumerate(sockets):
        if i and not i % FANOUT_SLICE:
            await asyncio.sleep(0)
        if sock.backlog is not None:
            sock.backlog.extend(frames)
            continue
        if sock.wire is not None:
            if prepared is None:
                prepared = frames_prepare(sock.wire, frames)
            if prepared is not None:
                wire_write(sock.wire, prepared)
                continue
        send = sock.base_send  # daphne writes at once: no per-socket task, encode or layer delivery
        try:
            for frame in frames:
                await send(frame)
        except Exception:  # noqa: S110  (a socket in its closing handshake refuses frames; the others go on)
            pass


# Events whose `sender` made a gift to the stream (their authors rank higher when chat is sampled).
GIFT_EVENTS = frozenset({"gift.sent", "gift.combo"})


async def _frames_sampled(
    sockets: tuple[RoomSocket, ...],
    full: set[RoomSocket],
    by_user: dict[int, set[RoomSocket]],
    frames: list[tuple[dict[str, Any], int | None]],
) -> None:
    """Write a round in which some chat messages were held back from viewers (sampling): the
    sockets in `full` get every frame, a held-back message's author's sockets get it too, every
    other socket gets the frames shown to all. `frames` is (frame, author id when held back)."""
    if all(author is None for _, author in frames):
        await _frames_to_all(sockets, [frame for frame, _ in frames])
        return
    special: dict[RoomSocket, list[dict[str, Any]]] = {}
    every = [frame for frame, _ in frames]
    for sock in full:
        special[sock] = every
    for author in {author for _, author in frames if author is not None}:
        for sock in by_user.get(author, ()):
            if sock not in special:
                special[sock] = [frame for frame, held in frames if held is None or held == author]
    shown = [frame for frame, held in frames if held is None]
    await _frames_to_all(tuple(sock for sock in sockets if sock not in special), shown)
    for sock, own in special.items():  # `full` and `by_user` hold only sockets of the room
        await _frames_to_all((sock,), own)


class LocalRoom(Subscription):
    """The sockets this process holds for one stream: one layer subscription, a writer and the ticker.

    The subscription's reader notes rule changes at once and queues the rest in arrival order; the
    writer sends everything queued to every local socket in rounds (settings.LIVE_FANOUT_FLUSH_MS apart at
    most), so a room that falls behind catches up with bigger rounds instead of a growing backlog.

    Chat messages pass the room's ChatSampler first (apps.live.sampling): while the room's chat is
    too fast to read, a message it holds back is written only to the sockets in `full` (host,
    moderators, staff) and to its author's own sockets."""

    sockets: set[RoomSocket]

    def __init__(self, group: str, registry: dict[str, Subscription], stream_id: int) -> None:
        super().__init__(group, registry)
        self.stream_id = stream_id
        self.viewers: Counter[int] = Counter()
        # The viewer count every local socket was last told (welcome or viewers.updated); None: they
        # were told different counts, so the next tick tells them all.
        self.viewers_told: int | None = None
        # Each queued message with the author id of a chat message held back from viewers (else None).
        self.outbox: list[tuple[dict[str, Any], int | None]] = []
        self.wake = asyncio.Event()
        # Until when the ticker looks for gift streaks' due frames every round (it heard a streak
        # that may still grow or end); otherwise once a combo window, for streaks begun before
        # this process joined the room.
        self.combos_busy_until = 0.0
        self.combos_swept = 0.0
        self.sampler = ChatSampler()
        self.full: set[RoomSocket] = set()  # local sockets that see every chat message
        self.by_user: dict[int, set[RoomSocket]] = {}
        self.gifters: dict[int, float] = {}  # user id -> when this process last saw them give a gift
        loop = asyncio.get_running_loop()
        self.writer = loop.create_task(self.write_forever())
        self.ticker = loop.create_task(self.tick_forever())

    def stop(self) -> None:
        super().stop()
        self.writer.cancel()
        self.ticker.cancel()

    def socket_add(self, sock: RoomSocket) -> None:
        self.by_user.setdefault(sock.user_id, set()).add(sock)
        if sock.sees_all_chat:
            self.full.add(sock)
        self._sampled_sockets_changed()

    def socket_removed(self, sock: Any) -> None:
        self._sampled_sockets_changed()

    def _sampled_sockets_changed(self) -> None:
        """Keep the room's sampled chat within this process's frame budget; tell the room when that
        changes the rate a viewer is shown while it is sampled."""
        if self.sampler.sockets_count(len(self.sockets) - len(self.full)) and self.sampler.active:
            self._sampling_announce()
            self.wake.set()

    def socket_remove(self, sock: RoomSocket) -> None:
        self.full.discard(sock)
        mine = self.by_user.get(sock.user_id)
        if mine is not None:
            mine.discard(sock)
            if not mine:
                del self.by_user[sock.user_id]

    def is_gifter(self, user_id: int) -> bool:
        """Whether the user gave a gift to this stream lately (as far as this process heard)."""
        at = self.gifters.get(user_id)
        return at is not None and asyncio.get_running_loop().time() - at < GIFTER_SECONDS

    def _sampling_announce(self) -> None:
        event = {"type": "chat.sampling", "payload": self.sampler.state()}
        self.outbox.append(({"type": "websocket.send", "text": json.dumps(event)}, None))

    async def handle(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        events = layer_message_events(message)
        if events is not None:
            now = asyncio.get_running_loop().time()
            for event in events:
                event_type = event.get("type")
                held: int | None = None
                if event_type == "gift.combo" and not event["payload"].get("ended"):
                    window = settings.LIVE_GIFT_COMBO_WINDOW_MS / 1000
                    self.combos_busy_until = now + 2 * window + 1
                if event_type == "chat.message":
                    # wall clock: the message was stamped by the (possibly other) process that took it in
                    sent = message.get("chat_sent")
                    age = time.time() - sent if isinstance(sent, (int, float)) else 0.0
                    shown, started = self.sampler.offer(message.get("chat_rank", RANK_ANY), now, age)
                    if started:
                        self._sampling_announce()
                    if not shown:
                        held = int(event["payload"]["user"]["id"])
                        if not self.full and held not in self.by_user:
                            continue  # no local socket gets it: not even encoded
                elif event_type in RULE_EVENTS:
                    for sock in tuple(self.sockets):
                        sock.rules_note(event)
                elif event_type in GIFT_EVENTS:
                    sender = (event.get("payload") or {}).get("sender") or {}
                    if sender.get("id") is not None:
                        self.gifters[int(sender["id"])] = now
                self.outbox.append(({"type": "websocket.send", "text": json.dumps(event)}, held))
        elif kind == "session.close":
            stream_id = message.get("stream_id")
            if stream_id is not None and str(stream_id) != str(self.stream_id):
                return
            self.outbox.append((message, None))  # after the events before it (stream.ended comes first)
        else:
            return
        self.wake.set()

    async def write_forever(self) -> None:
        loop = asyncio.get_running_loop()
        flush_seconds = settings.LIVE_FANOUT_FLUSH_MS / 1000
        last = -flush_seconds
        while True:
            await self.wake.wait()
            wait = last + flush_seconds - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            self.wake.clear()
            items, self.outbox = self.outbox, []
            last = loop.time()
            frames: list[tuple[dict[str, Any], int | None]] = []
            try:
                for item, held in items:
                    if item["type"] == "websocket.send":
                        frames.append((item, held))
                        continue
                    await _frames_sampled(tuple(self.sockets), self.full, self.by_user, frames)
                    frames = []
                    for sock in tuple(self.sockets):
                        await sock.end(item.get("reason") or "")
                await _frames_sampled(tuple(self.sockets), self.full, self.by_user, frames)
            except Exception:
                logger.exception("room write failed", extra={"stream_id": self.stream_id})

    async def tick_forever(self) -> None:
        state = room_state()
        layer = get_channel_layer()
        group = stream_group_name(self.stream_id)
        likes_ms = settings.LIVE_LIKES_BROADCAST_MS
        loop = asyncio.get_running_loop()
        next_presence = next_viewers = next_gifters = 0.0
        while True:
            await asyncio.sleep(likes_ms / 1000)
            now = loop.time()
            if self.sampler.tick(now):
                self._sampling_announce()
                self.wake.set()
            if self.gifters and now >= next_gifters:
                next_gifters = now + GIFTER_SECONDS / 10
                self.gifters = {user: at for user, at in self.gifters.items() if now - at < GIFTER_SECONDS}
            try:
                if await state.lock_try(f"likes:{self.stream_id}", likes_ms - 10):
                    delta, total = await state.likes_take(self.stream_id)
                    if delta:
                        await layer.group_send(
                            group, room_event_message("likes.updated", {"delta": delta, "total": total})
                        )
                    window = settings.LIVE_GIFT_COMBO_WINDOW_MS / 1000
                    if (
                        combos_enabled()
                        and isinstance(state, RedisRoomState)
                        and (now < self.combos_busy_until or now >= self.combos_swept + window)
                    ):
                        # The streaks' held-back frames and ends (one process a round: the lock's holder).
                        self.combos_swept = now
                        combos = await combos_due(state.redis, stream_id=self.stream_id)
                        if combos:
                            events = [{"type": "gift.combo", "payload": payload} for payload in combos]
                            await layer.group_send(group, {"type": "room.events", "events": events})
                if now >= next_presence:
                    next_presence = now + settings.LIVE_PRESENCE_REFRESH_SECONDS
                    await state.presence_touch(self.stream_id, list(self.viewers))
                if now >= next_viewers:
                    period = settings.LIVE_VIEWERS_BROADCAST_SECONDS
                    next_viewers = now + period
                    count = await state.presence_count(self.stream_id)
                    self.viewers_tell(count)
                    if await state.lock_try(f"viewers:{self.stream_id}", int(period * 1000) - 50):
                        await self.stats_save(state, count)
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis hiccup: try again next tick rather than kill the room
                logger.exception("room tick failed", extra={"stream_id": self.stream_id})

    def viewers_welcomed(self, count: int) -> None:
        """A local socket's welcome told it `count`."""
        if len(self.sockets) == 1:
            self.viewers_told = count
        elif count != self.viewers_told:
            self.viewers_told = None

    def viewers_tell(self, count: int) -> None:
        """Tell the local sockets the count when it differs from what they were told. Each process
        compares with its own sockets (not with a count last sent to the room), so a socket whose
        welcome counted differently hears the count even when the room's count never changed."""
        if count == self.viewers_told:
            return
        self.viewers_told = count
        event = {"type": "viewers.updated", "payload": {"count": count}}
        self.outbox.append(({"type": "websocket.send", "text": json.dumps(event)}, None))
        self.wake.set()

    async def stats_save(self, state: RedisRoomState | MemoryRoomState, count: int) -> None:
        """Store the count and likes on the stream (what the API shows) when they changed (one process a period)."""
        likes = await state.likes_total(self.stream_id)
        previous = await state.value_swap(f"{self.stream_id}:{VIEWERS_SAVED}", count)
        previous_likes = await state.value_swap(f"{self.stream_id}:likes_saved", likes)
        if previous != count or previous_likes != likes:
            await database_sync_to_async(stream_stats_update)(
                stream_id=self.stream_id, viewers=count, likes_total=likes
            )


class LocalUsers(Subscription):
    """The one subscription of a process to USERS_GROUP: each message carries its `user_id` and goes
    to that user's local sockets (any room): kicks, bans, invitations. Messages for users with no
    socket here are dropped after one dictionary lookup."""

    sockets: set[RoomSocket]

    def __init__(self, group: str, registry: dict[str, Subscription]) -> None:
        super().__init__(group, registry)
        self.by_user: dict[int, set[RoomSocket]] = {}

    def socket_added(self, sock: Any) -> None:
        self.by_user.setdefault(sock.user_id, set()).add(sock)

    def socket_removed(self, sock: Any) -> None:
        mine = self.by_user.get(sock.user_id)
        if mine is not None:
            mine.discard(sock)
            if not mine:
                del self.by_user[sock.user_id]

    async def handle(self, message: dict[str, Any]) -> None:
        user_id = message.get("user_id")
        sockets = tuple(self.by_user.get(user_id, ())) if isinstance(user_id, int) else ()
        if not sockets:
            return
        kind = message.get("type")
        events = layer_message_events(message)
        if events is not None:
            for event in events:
                for sock in sockets:
                    sock.rules_note(event)
            await _frames_to_all(sockets, [{"type": "websocket.send", "text": json.dumps(e)} for e in events])
        elif kind == "session.close":
            stream_id = message.get("stream_id")
            for sock in sockets:
                if stream_id is None or str(stream_id) == str(sock.stream_id):
                    await sock.end(message.get("reason") or "")


# This process's subscriptions, by group name.
_rooms: dict[str, Subscription] = {}
_users: dict[str, Subscription] = {}


async def socket_join(sock: RoomSocket, *, viewer: bool) -> bool:
    """Join this process's room and user subscriptions. True when a viewer is the user's first
    local socket in the room (their presence is new here)."""
    stream_id = sock.stream_id

    def new_room(group: str, registry: dict[str, Subscription]) -> Subscription:
        return LocalRoom(group, registry, stream_id)

    room = await subscription_join(_rooms, stream_group_name(stream_id), sock, new_room)
    assert isinstance(room, LocalRoom)
    room.socket_add(sock)
    first_here = False
    if viewer:
        room.viewers[sock.user_id] += 1
        first_here = room.viewers[sock.user_id] == 1
    await subscription_join(_users, USERS_GROUP, sock, LocalUsers)
    return first_here


def socket_welcomed(sock: RoomSocket, viewers: int) -> None:
    """Note the viewer count `sock`'s welcome carried (the room tells its sockets when they differ)."""
    room = _rooms.get(stream_group_name(sock.stream_id))
    if isinstance(room, LocalRoom) and sock in room.sockets:
        room.viewers_welcomed(viewers)


def socket_leave(sock: RoomSocket, *, viewer: bool) -> bool:
    """Leave this process's room and user subscriptions at once (no further frames reach the
    socket). True when it was a viewer's last local socket in the room: their presence should go."""
    subscription_leave(_users, USERS_GROUP, sock)
    room = _rooms.get(stream_group_name(sock.stream_id))
    gone = False
    if isinstance(room, LocalRoom) and sock in room.sockets:
        room.socket_remove(sock)
    if isinstance(room, LocalRoom) and sock in room.sockets and viewer:
        room.viewers[sock.user_id] -= 1
        if room.viewers[sock.user_id] <= 0:
            del room.viewers[sock.user_id]
            gone = True
    subscription_leave(_rooms, stream_group_name(sock.stream_id), sock)
    return gone


def _room_of(sock: RoomSocket) -> LocalRoom | None:
    room = _rooms.get(stream_group_name(sock.stream_id))
    return room if isinstance(room, LocalRoom) and sock in room.sockets else None


def socket_sees_all_chat_changed(sock: RoomSocket) -> None:
    """`sock.sees_all_chat` changed (its user became or stopped being a room moderator)."""
    room = _room_of(sock)
    if room is not None and sock in room.sockets:
        room.socket_remove(sock)
        room.socket_add(sock)


def socket_chat_sampling(sock: RoomSocket) -> dict[str, Any]:
    """The room's chat sampling as this process sees it (what `sock`'s welcome says)."""
    room = _room_of(sock)
    return (room.sampler if room is not None else ChatSampler()).state()


def socket_chat_sampled(sock: RoomSocket) -> bool:
    """Whether this process is sampling the chat of `sock`'s room now."""
    room = _room_of(sock)
    return room is not None and room.sampler.active


def socket_is_gifter(sock: RoomSocket) -> bool:
    """Whether `sock`'s user gave a gift to its stream lately (heard by this process's room)."""
    room = _room_of(sock)
    return room is not None and room.is_gifter(sock.user_id)
