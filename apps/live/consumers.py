"""The stream room: one WebSocket per viewer or host at `ws/streams/<id>/` (protocol: apps/live/PROTOCOL.md).

Each daphne process listens once to the room group `stream_<id>` and once to the user group
`user_<user id>` of the sockets it holds (apps.live.fanout): layer messages `{"type": "room.event",
"event": {...}}` (or `room.events` with several, sent together) are encoded once and written
verbatim, one frame per event, to every local socket of the room (or user);
`session.close` closes the sockets after telling them why. Shared room state (presence, likes, chat
limits, history) lives in Redis (apps.live.room_state); a small per-process ticker per room keeps
presence fresh and broadcasts likes and viewer counts, with a Redis lock so several daphne
processes never double up.
"""

import asyncio
import importlib
import json
import logging
import uuid
from collections import Counter
from datetime import datetime
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import get_channel_layer
from django.conf import settings
from django.utils import timezone
from rest_framework import serializers

from apps.accounts.selectors import is_following
from apps.core.exception_handler import error_body
from apps.core.exceptions import DomainError, NotFound
from apps.live import selectors, services
from apps.live.events import layer_message_events, stream_group_name, user_group_name
from apps.live.exceptions import (
    ChatRateLimited,
    ChatRefused,
    InvalidEvent,
    NotAuthenticated,
    NotStreamHost,
    UnknownEvent,
)
from apps.live.fanout import Subscription, subscription_join, subscription_leave
from apps.live.models import Stream
from apps.live.room_state import room_state

logger = logging.getLogger(__name__)

MAX_FRAME_BYTES = 8192
LIKES_PER_SECOND_MAX = 30

# Close codes (documented in PROTOCOL.md): 4001 sign in, 4003 refused, 4004 no such live stream,
# 4010 the stream ended, 4000 closed by the server for another reason.
CLOSE_CODES = {
    "not_authenticated": 4001,
    "account_banned": 4003,
    "banned": 4003,
    "kicked": 4003,
    "user_blocked": 4003,
    "not_found": 4004,
    "stream_not_live": 4004,
    "stream_ended": 4010,
}


def chat_filter(*, user_id: int, stream_id: int, text: str) -> Any:
    """The moderation word filter's verdict, or None ONLY while apps.moderation.services does not exist."""
    try:
        moderation = importlib.import_module("apps.moderation.services")
    except ModuleNotFoundError as exc:
        if exc.name not in ("apps.moderation.services", "apps.moderation"):
            raise
        return None
    return moderation.chat_message_check(user_id=user_id, stream_id=stream_id, text=text)


# --- Frame validation ---------------------------------------------------------------------------


class ChatSendSerializer(serializers.Serializer):
    text = serializers.CharField(trim_whitespace=True, allow_blank=False)

    def validate_text(self, value: str) -> str:
        if len(value) > settings.LIVE_CHAT_MAX_LENGTH:
            raise serializers.ValidationError(f"At most {settings.LIVE_CHAT_MAX_LENGTH} characters.")
        return value


class LikeSendSerializer(serializers.Serializer):
    count = serializers.IntegerField(min_value=1, max_value=50, default=1)


class UserTargetSerializer(serializers.Serializer):
    user_id = serializers.IntegerField(min_value=1)


class MuteSerializer(UserTargetSerializer):
    minutes = serializers.IntegerField(min_value=1, max_value=24 * 60, required=False, allow_null=True)


class KickSerializer(UserTargetSerializer):
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class PinSerializer(serializers.Serializer):
    message_id = serializers.CharField(max_length=64)


class ChatModeSerializer(serializers.Serializer):
    mode = serializers.ChoiceField(choices=Stream.ChatMode.values)
    slow_mode_seconds = serializers.IntegerField(min_value=0, max_value=300, required=False)


def _validated(serializer_class: type[serializers.Serializer], payload: dict) -> dict:
    unknown = set(payload) - set(serializer_class().fields)
    if unknown:
        raise InvalidEvent(details={name: ["Unknown field."] for name in sorted(unknown)})
    serializer = serializer_class(data=payload)
    if not serializer.is_valid():
        raise InvalidEvent(details=serializer.errors)
    return serializer.validated_data


# --- Per-process room registry and ticker -------------------------------------------------------


# Room events that change the chat rules a socket enforces for its user.
RULE_EVENTS = frozenset({"chat.mode", "chat.muted", "chat.unmuted"})


# A write round lets other work in (chat sends, connects) after this many sockets.
FANOUT_SLICE = 200


async def _frames_to_all(sockets: tuple["StreamRoomConsumer", ...], frames: list[dict[str, Any]]) -> None:
    """Write prepared text frames to each socket (held back while its welcome is on the way)."""
    if not frames:
        return
    for i, sock in enumerate(sockets):
        if i and not i % FANOUT_SLICE:
            await asyncio.sleep(0)
        if sock.backlog is not None:
            sock.backlog.extend(frames)
            continue
        send = sock.base_send  # daphne writes at once: no per-socket task, encode or layer delivery
        try:
            for frame in frames:
                await send(frame)
        except Exception:  # noqa: S110  (a socket in its closing handshake refuses frames; the others go on)
            pass


class LocalRoom(Subscription):
    """The sockets this process holds for one stream: one layer subscription, a writer and the ticker.

    The subscription's reader notes rule changes at once and queues the rest in arrival order; the
    writer sends everything queued to every local socket in rounds (settings.LIVE_FANOUT_FLUSH_MS apart at
    most), so a room that falls behind catches up with bigger rounds instead of a growing backlog."""

    def __init__(self, group: str, registry: dict, stream_id: int):
        super().__init__(group, registry)
        self.stream_id = stream_id
        self.viewers: Counter[int] = Counter()
        self.outbox: list[dict[str, Any]] = []
        self.wake = asyncio.Event()
        loop = asyncio.get_running_loop()
        self.writer = loop.create_task(self.write_forever())
        self.ticker = loop.create_task(self.tick_forever())

    def stop(self) -> None:
        super().stop()
        self.writer.cancel()
        self.ticker.cancel()

    async def handle(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        events = layer_message_events(message)
        if events is not None:
            for event in events:
                if event.get("type") in RULE_EVENTS:
                    for sock in tuple(self.sockets):
                        sock.rules_note(event)
                self.outbox.append({"type": "websocket.send", "text": json.dumps(event)})
        elif kind == "session.close":
            stream_id = message.get("stream_id")
            if stream_id is not None and str(stream_id) != str(self.stream_id):
                return
            self.outbox.append(message)  # after the events before it (stream.ended comes first)
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
            frames: list[dict[str, Any]] = []
            try:
                for item in items:
                    if item["type"] == "websocket.send":
                        frames.append(item)
                        continue
                    await _frames_to_all(tuple(self.sockets), frames)
                    frames = []
                    for sock in tuple(self.sockets):
                        await sock.end(item.get("reason") or "")
                await _frames_to_all(tuple(self.sockets), frames)
            except Exception:
                logger.exception("room write failed", extra={"stream_id": self.stream_id})

    async def tick_forever(self) -> None:
        state = room_state()
        layer = get_channel_layer()
        group = stream_group_name(self.stream_id)
        likes_ms = settings.LIVE_LIKES_BROADCAST_MS
        loop = asyncio.get_running_loop()
        next_presence = next_viewers = 0.0
        while True:
            await asyncio.sleep(likes_ms / 1000)
            now = loop.time()
            try:
                if await state.lock_try(f"likes:{self.stream_id}", likes_ms - 10):
                    delta, total = await state.likes_take(self.stream_id)
                    if delta:
                        await layer.group_send(group, _room_event("likes.updated", {"delta": delta, "total": total}))
                if now >= next_presence:
                    next_presence = now + settings.LIVE_PRESENCE_REFRESH_SECONDS
                    await state.presence_touch(self.stream_id, list(self.viewers))
                if now >= next_viewers:
                    period = settings.LIVE_VIEWERS_BROADCAST_SECONDS
                    next_viewers = now + period
                    if await state.lock_try(f"viewers:{self.stream_id}", int(period * 1000) - 50):
                        await self.viewers_publish(state, layer, group)
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis hiccup: try again next tick rather than kill the room
                logger.exception("room tick failed", extra={"stream_id": self.stream_id})

    async def viewers_publish(self, state: Any, layer: Any, group: str) -> None:
        count = await state.presence_count(self.stream_id)
        likes = await state.likes_total(self.stream_id)
        previous = await state.value_swap(f"{self.stream_id}:viewers_sent", count)
        previous_likes = await state.value_swap(f"{self.stream_id}:likes_saved", likes)
        if previous != count:
            await layer.group_send(group, _room_event("viewers.updated", {"count": count}))
        if previous != count or previous_likes != likes:
            await database_sync_to_async(services.stream_stats_update)(
                stream_id=self.stream_id, viewers=count, likes_total=likes
            )


class LocalUser(Subscription):
    """The sockets this process holds for one user (any room): kicks, bans, invitations."""

    async def handle(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        sockets = tuple(self.sockets)
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
_rooms: dict[str, LocalRoom] = {}
_users: dict[str, LocalUser] = {}
_background: set[asyncio.Task] = set()


def _room_event(event_type: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {"type": "room.event", "event": {"type": event_type, "payload": payload}}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


# --- The consumer -------------------------------------------------------------------------------


class StreamRoomConsumer(AsyncJsonWebsocketConsumer):
    # No layer channel per socket: this process's room and user subscriptions deliver to it.
    channel_layer_alias = None
    stream_id: int
    user_id: int
    joined = False
    # Frames that arrive between joining the room and sending the welcome wait here (None: send at once).
    backlog: list[dict[str, Any]] | None = None

    async def connect(self) -> None:
        self.stream_id = int(self.scope["url_route"]["kwargs"]["stream_id"])
        await self.accept(subprotocol=self.scope.get("auth_subprotocol"))
        user = self.scope["user"]
        try:
            if not user.is_authenticated:
                raise NotAuthenticated()
            # Not thread-sensitive: connects of many sockets at once run their reads in parallel threads.
            access = await database_sync_to_async(selectors.room_access, thread_sensitive=False)(
                stream_id=self.stream_id, user=user
            )
        except DomainError as exc:
            await self.send_json({"type": "error", "payload": error_body(exc.code, exc.message, exc.details)})
            await self.close(code=CLOSE_CODES.get(exc.code, 4003))
            return

        self.user = user
        self.user_id = user.pk
        self.role = access.role
        self.is_host = access.role == "host"
        self.author = {**access.user, "role": access.role}
        self.chat_mode = access.stream["chat_mode"]
        self.slow_mode_seconds = access.stream["slow_mode_seconds"]
        self.follows_host = access.follows_host
        self.is_og: bool | None = access.is_og
        self.muted = access.muted
        self.muted_until = access.muted_until

        self.backlog = []
        self.joined = True
        state = room_state()
        stream_id = self.stream_id
        room = await subscription_join(
            _rooms, stream_group_name(stream_id), self, lambda group, registry: LocalRoom(group, registry, stream_id)
        )
        first_here = False
        if not self.is_host:
            room.viewers[self.user_id] += 1
            first_here = room.viewers[self.user_id] == 1
        await subscription_join(_users, user_group_name(self.user_id), self, LocalUser)
        viewers, likes_total, history = await state.welcome(self.stream_id, self.user_id if first_here else None)
        if not self.joined:  # closed (kicked, stream ended) while the welcome was read
            return

        await self.send_json(
            {
                "type": "room.welcome",
                "payload": {
                    "stream": access.stream,
                    "you": {**self.author, "muted": self.muted, "muted_until": _iso(self.muted_until)},
                    "viewers": viewers,
                    "likes_total": likes_total,
                    "history": history,
                    "linkcast": access.linkcast,
                    "limits": {
                        "chat_max_length": settings.LIVE_CHAT_MAX_LENGTH,
                        "chat_rate": [settings.LIVE_CHAT_RATE_COUNT, settings.LIVE_CHAT_RATE_SECONDS],
                    },
                },
            }
        )
        backlog, self.backlog = self.backlog, None
        for frame in backlog:
            await self.base_send(frame)

    async def disconnect(self, code: int) -> None:
        await self.leave()

    def detach(self) -> bool:
        """Leave this process's room and user subscriptions at once (no further frames reach this
        socket). True when it was the user's last local socket in the room: presence should go."""
        if not self.joined:
            return False
        self.joined = False
        self.backlog = None
        subscription_leave(_users, user_group_name(self.user_id), self)
        room = _rooms.get(stream_group_name(self.stream_id))
        gone = False
        if room is not None and self in room.sockets and not self.is_host:
            room.viewers[self.user_id] -= 1
            if room.viewers[self.user_id] <= 0:
                del room.viewers[self.user_id]
                gone = True
        subscription_leave(_rooms, stream_group_name(self.stream_id), self)
        return gone

    async def leave(self) -> None:
        """Leave the local room; presence goes with the user's last local socket."""
        if self.detach():
            await self._presence_remove()

    async def _presence_remove(self) -> None:
        try:
            await room_state().presence_remove(self.stream_id, self.user_id)
        except Exception:  # the entry expires on its own
            logger.exception("presence not removed", extra={"stream_id": self.stream_id})

    async def end(self, reason: str) -> None:
        """Tell this socket why, then close it (stream ended, kicked, banned). Called by the room or
        user subscription, which must not wait on Redis per socket: presence is removed in the background."""
        if not self.joined:
            return
        await self.send_json({"type": "session.closed", "payload": {"reason": reason, "stream_id": self.stream_id}})
        await self.close(code=CLOSE_CODES.get(reason, 4000))
        # Last: leaving the last local socket stops the subscription whose task is calling this.
        if self.detach():
            task = asyncio.get_running_loop().create_task(self._presence_remove())
            _background.add(task)
            task.add_done_callback(_background.discard)

    # --- Frames from the client -----------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        if not self.joined:
            return
        ref = None
        try:
            if text_data is None:
                raise InvalidEvent("Send JSON text frames.")
            if len(text_data) > MAX_FRAME_BYTES:
                raise InvalidEvent("The frame is too large.", details={"max_bytes": MAX_FRAME_BYTES})
            try:
                content = json.loads(text_data)
            except ValueError:
                raise InvalidEvent("The frame is not valid JSON.") from None
            if not isinstance(content, dict):
                raise InvalidEvent('Send an object: {"type": ..., "payload": {...}}.')
            ref = content.get("ref") if isinstance(content.get("ref"), (str, int)) else None
            event_type = content.get("type")
            payload = content.get("payload", {})
            if not isinstance(event_type, str) or not isinstance(payload, dict):
                raise InvalidEvent('Send an object: {"type": ..., "payload": {...}}.')
            handler = self.HANDLERS.get(event_type)
            if handler is None:
                raise UnknownEvent(details={"type": event_type[:64]})
            await handler(self, payload)
        except DomainError as exc:
            await self.send_error(exc.code, exc.message, exc.details, ref)
        except Exception:
            logger.exception("room frame failed", extra={"stream_id": self.stream_id, "user_id": self.user_id})
            await self.send_error("server_error", "Something went wrong; the event was not processed.", {}, ref)

    async def send_error(self, code: str, message: str, details: Any, ref: Any) -> None:
        body = error_body(code, message, details)
        if ref is not None:
            body["ref"] = ref
        await self.send_json({"type": "error", "payload": body})

    async def on_ping(self, payload: dict) -> None:
        await self.send_json({"type": "pong", "payload": {"t": payload.get("t")}})

    async def on_chat_send(self, payload: dict) -> None:
        text = _validated(ChatSendSerializer, payload)["text"]
        state = room_state()
        if not self.is_host:
            await self.chat_allowed()
            if self.slow_mode_seconds:
                wait = await state.slow_mode_pass(self.stream_id, self.user_id, self.slow_mode_seconds)
                if wait:
                    raise ChatRateLimited(
                        "Slow mode is on.",
                        details={"retry_after": round(wait, 1), "slow_mode_seconds": self.slow_mode_seconds},
                    )
        hits = await state.hits(f"chat:{self.stream_id}:{self.user_id}", settings.LIVE_CHAT_RATE_SECONDS)
        if hits > settings.LIVE_CHAT_RATE_COUNT:
            raise ChatRateLimited(details={"retry_after": settings.LIVE_CHAT_RATE_SECONDS})
        check = await database_sync_to_async(chat_filter)(user_id=self.user_id, stream_id=self.stream_id, text=text)
        if check is not None:
            if not check.allowed:
                raise ChatRefused(
                    "Your message was not sent.",
                    details={"reason": check.reason, "muted_until": _iso(check.muted_until)},
                )
            text = check.text
        message = {
            "id": uuid.uuid4().hex[:16],
            "user": self.author,
            "text": text,
            "sent_at": timezone.now().isoformat(),
        }
        await state.history_push(self.stream_id, message)
        await get_channel_layer().group_send(stream_group_name(self.stream_id), _room_event("chat.message", message))

    async def chat_allowed(self) -> None:
        if self.muted and (self.muted_until is None or self.muted_until > timezone.now()):
            raise ChatRefused("The host muted you in this room.", details={"muted_until": _iso(self.muted_until)})
        if self.chat_mode == Stream.ChatMode.FOLLOWERS and not self.follows_host:
            # Following may have happened after joining: look once more before refusing.
            host_id = (await database_sync_to_async(selectors.stream_get)(stream_id=self.stream_id)).host_id
            self.follows_host = await database_sync_to_async(is_following)(
                follower_id=self.user_id, followee_id=host_id
            )
            if not self.follows_host:
                raise ChatRefused("Only followers of the host can chat right now.", details={"chat_mode": "followers"})
        if self.chat_mode == Stream.ChatMode.OG:
            if not self.is_og:
                self.is_og = await database_sync_to_async(selectors.user_has_og)(user_id=self.user_id)
            if not self.is_og:
                raise ChatRefused("Only OG members can chat right now.", details={"chat_mode": "og"})

    async def on_like_send(self, payload: dict) -> None:
        count = _validated(LikeSendSerializer, payload)["count"]
        state = room_state()
        if await state.hits(f"like:{self.stream_id}:{self.user_id}", 1) > LIKES_PER_SECOND_MAX:
            raise ChatRateLimited("Too many likes; slow down.", details={"retry_after": 1})
        await state.likes_add(self.stream_id, count)

    # --- Host actions ------------------------------------------------------------------------------

    def require_host(self) -> None:
        if not self.is_host:
            raise NotStreamHost()

    async def on_host_pin(self, payload: dict) -> None:
        self.require_host()
        message_id = _validated(PinSerializer, payload)["message_id"]
        history = await room_state().history_get(self.stream_id)
        message = next((m for m in history if m.get("id") == message_id), None)
        if message is None:
            raise NotFound("No such recent message.")
        await database_sync_to_async(services.stream_message_pin)(
            stream_id=self.stream_id, by=self.user, message=message
        )

    async def on_host_unpin(self, payload: dict) -> None:
        self.require_host()
        _validated(serializers.Serializer, payload)
        await database_sync_to_async(services.stream_message_pin)(stream_id=self.stream_id, by=self.user, message=None)

    async def on_host_mute(self, payload: dict) -> None:
        self.require_host()
        data = _validated(MuteSerializer, payload)
        await database_sync_to_async(services.stream_viewer_mute)(
            stream_id=self.stream_id, user_id=data["user_id"], by=self.user, minutes=data.get("minutes")
        )

    async def on_host_unmute(self, payload: dict) -> None:
        self.require_host()
        data = _validated(UserTargetSerializer, payload)
        await database_sync_to_async(services.stream_viewer_unmute)(
            stream_id=self.stream_id, user_id=data["user_id"], by=self.user
        )

    async def on_host_kick(self, payload: dict) -> None:
        self.require_host()
        data = _validated(KickSerializer, payload)
        await database_sync_to_async(services.stream_viewer_kick)(
            stream_id=self.stream_id, user_id=data["user_id"], by=self.user, reason=data["reason"]
        )

    async def on_host_chat_mode(self, payload: dict) -> None:
        self.require_host()
        data = _validated(ChatModeSerializer, payload)
        await database_sync_to_async(services.stream_chat_settings_set)(
            stream_id=self.stream_id, by=self.user, mode=data["mode"], slow_mode_seconds=data.get("slow_mode_seconds")
        )

    HANDLERS = {
        "ping": on_ping,
        "chat.send": on_chat_send,
        "like.send": on_like_send,
        "host.pin": on_host_pin,
        "host.unpin": on_host_unpin,
        "host.mute": on_host_mute,
        "host.unmute": on_host_unmute,
        "host.kick": on_host_kick,
        "host.chat_mode": on_host_chat_mode,
    }

    # --- Layer messages (delivered by this process's room and user subscriptions) -----------------

    def rules_note(self, event: dict[str, Any]) -> None:
        """Note the room events that change this socket's chat rules."""
        event_type = event.get("type")
        payload = event.get("payload") or {}
        if event_type == "chat.mode":
            self.chat_mode = payload.get("mode", self.chat_mode)
            self.slow_mode_seconds = payload.get("slow_mode_seconds", self.slow_mode_seconds)
        elif event_type == "chat.muted" and payload.get("user_id") == self.user_id:
            self.muted = True
            self.muted_until = datetime.fromisoformat(payload["until"]) if payload.get("until") else None
        elif event_type == "chat.unmuted" and payload.get("user_id") == self.user_id:
            self.muted, self.muted_until = False, None
