"""The stream room: one WebSocket per viewer or host at `ws/streams/<id>/` (protocol: apps/live/PROTOCOL.md).

The consumer authenticates, validates client frames and calls services. Each daphne process
listens once to the room group `stream_<id>` and once to all its users' messages (addressed
`user_<user id>`, apps.live.events.layer_route), and writes each event, encoded once, to all its
local sockets (apps.live.fanout); `session.close` closes the sockets after telling them why. Who
may chat and what a message must pass is apps.live.chat. Shared room state (presence, likes, chat
limits, history) lives in Redis (apps.live.room_state).
"""

import asyncio
import json
import logging
import time
import uuid
from typing import Any
from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import get_channel_layer
from django.conf import settings
from django.utils import timezone, translation
from django.utils.functional import Promise
from django.utils.translation import gettext, gettext_lazy, gettext_noop
from rest_framework import serializers

from apps.accounts.models import User
from apps.core.exception_handler import error_body
from apps.core.exceptions import DomainError, NotFound
from apps.core.i18n import language_choose, language_from_accept_header, translate
from apps.core.middleware import SERVER_SEND
from apps.core.timestamps import iso_utc
from apps.live import services
from apps.live.chat import MODERATOR_EVENTS, ChatHeld, ChatRules, chat_hold_decide, seconds_round_up
from apps.live.events import room_event_message, stream_group_name
from apps.live.exceptions import ChatRateLimited, InvalidEvent, NotAuthenticated, NotStreamHost, UnknownEvent
from apps.live.fanout import (
    socket_chat_sampled,
    socket_chat_sampling,
    socket_is_gifter,
    socket_join,
    socket_leave,
    socket_sees_all_chat_changed,
    socket_welcomed,
)
from apps.live.models import Stream
from apps.live.room_join import JoinResult, room_join
from apps.live.room_state import room_state
from apps.live.sampling import RANK_ANY, RANK_FAN, RANK_STAFF, chat_sees_everything
from apps.live.wire import wire_protocol
from apps.og.selectors import user_has_active_og

logger = logging.getLogger(__name__)

# Presence removals in flight after a socket was ended (kept referenced until they finish).
_background: set[asyncio.Task[None]] = set()

MAX_FRAME_BYTES = 8192
LIKES_PER_SECOND_MAX = 30

# Close codes (documented in PROTOCOL.md): 4001 sign in, 4003 refused, 4004 no such live stream,
# 4010 the stream ended, 4000 closed by the server for another reason.
CLOSE_CODES = {
    "not_authenticated": 4001,
    "session_revoked": 4001,  # password change or logout-everywhere: sign in again
    "account_banned": 4003,
    "banned": 4003,
    "kicked": 4003,
    "user_blocked": 4003,
    "not_found": 4004,
    "stream_not_live": 4004,
    "stream_ended": 4010,
}


def socket_language(scope: dict[str, Any], *, saved: str = "") -> str:
    """The socket's language: the user's saved preference, else the handshake's Accept-Language,
    else a `lang` query parameter (native clients that cannot set headers), else the default."""
    headers = dict(scope.get("headers") or [])
    query = parse_qs((scope.get("query_string") or b"").decode("latin-1"))
    return language_choose(
        saved or None,
        language_from_accept_header(headers.get(b"accept-language", b"").decode("latin-1")),
        (query.get("lang") or [""])[0],
    )


# --- Frame validation ---------------------------------------------------------------------------


class ChatSendSerializer(serializers.Serializer):
    text = serializers.CharField(trim_whitespace=True, allow_blank=False)

    def validate_text(self, value: str) -> str:
        if len(value) > settings.LIVE_CHAT_MAX_LENGTH:
            raise serializers.ValidationError(
                translate(gettext_noop("At most %(count)s characters."), count=settings.LIVE_CHAT_MAX_LENGTH)
            )
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


class HeldMessageSerializer(serializers.Serializer):
    message_id = serializers.CharField(max_length=32)


class ChatModeSerializer(serializers.Serializer):
    mode = serializers.ChoiceField(choices=Stream.ChatMode.values)
    slow_mode_seconds = serializers.IntegerField(min_value=0, max_value=300, required=False)


def _validated(serializer_class: type[serializers.Serializer], payload: dict) -> dict:
    unknown = set(payload) - set(serializer_class().fields)
    if unknown:
        raise InvalidEvent(
            details={name: [gettext("Unknown field.")] for name in sorted(unknown)}
        )  # JSON: no lazy text
    serializer = serializer_class(data=payload)
    if not serializer.is_valid():
        raise InvalidEvent(details=serializer.errors)
    return serializer.validated_data


# --- The consumer -------------------------------------------------------------------------------


class StreamRoomConsumer(AsyncJsonWebsocketConsumer):
    # No layer channel per socket: this process's room and user subscriptions deliver to it.
    channel_layer_alias = None
    stream_id: int
    user_id: int
    user: User | None = None  # the host's row, once a host action needed it
    joined = False
    sees_all_chat = False
    # Frames that arrive between joining the room and sending the welcome wait here (None: send at once).
    backlog: list[dict[str, Any]] | None = None
    wire: Any | None = None  # daphne's protocol, for write rounds' prepared frames (apps.live.wire)

    async def dispatch(self, message: dict[str, Any]) -> None:
        """channels' dispatch without its close_old_connections() before every handler: that is a hop
        to the thread of sync code per frame (connects included). This consumer reaches the database
        only through database_sync_to_async, which closes stale connections around each call itself."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def websocket_disconnect(self, message: dict[str, Any]) -> None:
        """channels' websocket_disconnect without its close_old_connections() (see dispatch); this
        consumer is in no layer group of its own (channel_layer_alias None)."""
        await self.disconnect(message["code"])
        raise StopConsumer()

    async def connect(self) -> None:
        self.stream_id = int(self.scope["url_route"]["kwargs"]["stream_id"])
        await self.accept(subprotocol=self.scope.get("auth_subprotocol"))
        self.wire = wire_protocol(self.scope.get(SERVER_SEND))
        token = self.scope.get(
            "access_token"
        )  # signature checked; the rest is room_join's (apps.accounts.channels_auth)
        if token is None:
            joined = JoinResult(access=None, error=NotAuthenticated())
        else:
            joined = await room_join(token=token, stream_id=self.stream_id)
        self.language = socket_language(self.scope, saved=joined.language)
        if joined.access is None:
            assert joined.error is not None
            with translation.override(self.language):
                body = error_body(joined.error.code, joined.error.message, joined.error.details)
            await self.send_json({"type": "error", "payload": body})
            await self.close(code=CLOSE_CODES.get(joined.error.code, 4003))
            return
        access = joined.access

        self.user_id = int(access.user["id"])
        self.role = access.role
        self.is_host = access.role == "host"
        self.is_staff = joined.is_staff
        self.sees_all_chat = chat_sees_everything(role=access.role, is_staff=self.is_staff)
        self.author = {**access.user, "role": access.role}
        self.chat = ChatRules(
            stream_id=self.stream_id,
            user_id=self.user_id,
            is_host=self.is_host,
            chat_mode=access.stream["chat_mode"],
            slow_mode_seconds=access.stream["slow_mode_seconds"],
            follows_host=access.follows_host,
            is_og=access.is_og,
            muted=access.muted,
            muted_until=access.muted_until,
        )

        self.backlog = []
        self.joined = True
        first_here = await socket_join(self, viewer=not self.is_host)
        viewers, likes_total, history = await room_state().welcome(self.stream_id, self.user_id if first_here else None)
        if not self.joined:  # closed (kicked, stream ended) while the welcome was read
            return
        socket_welcomed(self, viewers)
        chat_sampling = socket_chat_sampling(self)  # read last: a later change follows the welcome

        await self.send_json(
            {
                "type": "room.welcome",
                "payload": {
                    "stream": access.stream,
                    "you": {**self.author, "muted": self.chat.muted, "muted_until": iso_utc(self.chat.muted_until)},
                    "viewers": viewers,
                    "likes_total": likes_total,
                    "history": history,
                    "linkcast": access.linkcast,
                    "chat_sampling": chat_sampling,
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
        return socket_leave(self, viewer=not self.is_host)

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
        # The socket's language for what this frame's handling raises (threads it calls inherit it).
        with translation.override(self.language):
            await self._receive(text_data)

    async def _receive(self, text_data: str | None) -> None:
        ref = None
        try:
            if text_data is None:
                raise InvalidEvent(gettext_lazy("Send JSON text frames."))
            # Bytes on the wire, not characters: Devanagari is 3 UTF-8 bytes a character.
            if len(text_data) > MAX_FRAME_BYTES // 4 and len(text_data.encode()) > MAX_FRAME_BYTES:
                raise InvalidEvent(gettext_lazy("The frame is too large."), details={"max_bytes": MAX_FRAME_BYTES})
            try:
                content = json.loads(text_data)
            except ValueError:
                raise InvalidEvent(gettext_lazy("The frame is not valid JSON.")) from None
            if not isinstance(content, dict):
                raise InvalidEvent(gettext_lazy('Send an object: {"type": ..., "payload": {...}}.'))
            ref = content.get("ref") if isinstance(content.get("ref"), (str, int)) else None
            event_type = content.get("type")
            payload = content.get("payload", {})
            if not isinstance(event_type, str) or not isinstance(payload, dict):
                raise InvalidEvent(gettext_lazy('Send an object: {"type": ..., "payload": {...}}.'))
            handler = self.HANDLERS.get(event_type)
            if handler is None:
                raise UnknownEvent(details={"type": event_type[:64]})
            await handler(self, payload)
        except DomainError as exc:
            await self.send_error(exc.code, exc.message, exc.details, ref)
        except Exception:
            logger.exception("room frame failed", extra={"stream_id": self.stream_id, "user_id": self.user_id})
            message = gettext_lazy("Something went wrong; the event was not processed.")
            await self.send_error("server_error", message, {}, ref)

    async def send_error(self, code: str, message: "str | Promise", details: Any, ref: Any) -> None:
        body = error_body(code, message, details)
        if ref is not None:
            body["ref"] = ref
        await self.send_json({"type": "error", "payload": body})

    async def on_ping(self, payload: dict) -> None:
        await self.send_json({"type": "pong", "payload": {"t": payload.get("t")}})

    async def on_chat_send(self, payload: dict[str, Any]) -> None:
        try:
            text = await self.chat.message_accept(_validated(ChatSendSerializer, payload)["text"])
        except ChatHeld as held:
            # Held for review: its sender alone sees it, as pending, until the host or staff decides.
            pending = {"id": held.message_id, "stream_id": self.stream_id, "text": held.text}
            await self.send_json({"type": "chat.pending", "payload": pending})
            return
        message = {
            "id": uuid.uuid4().hex[:16],
            "user": self.author,
            "text": text,
            "sent_at": iso_utc(timezone.now()),
        }
        await room_state().history_push(self.stream_id, message)
        layer_message = room_event_message("chat.message", message)
        layer_message["chat_rank"] = await self.chat_rank()
        layer_message["chat_sent"] = time.time()  # a sampled room shows viewers no stale message (apps.live.sampling)
        await get_channel_layer().group_send(stream_group_name(self.stream_id), layer_message)

    async def chat_rank(self) -> int:
        """How this socket's messages rank when the room's chat is sampled (apps.live.sampling).
        OG membership is read once per socket, and only while this process samples the room."""
        if self.sees_all_chat:
            return RANK_STAFF
        if socket_is_gifter(self):
            return RANK_FAN
        if self.chat.is_og is None and socket_chat_sampled(self):
            self.chat.is_og = await database_sync_to_async(user_has_active_og)(user_id=self.user_id)
        return RANK_FAN if self.chat.is_og else RANK_ANY

    async def on_like_send(self, payload: dict) -> None:
        count = _validated(LikeSendSerializer, payload)["count"]
        state = room_state()
        hits, seconds_left = await state.hits(f"like:{self.stream_id}:{self.user_id}", 1)
        if hits > LIKES_PER_SECOND_MAX:
            raise ChatRateLimited(
                gettext_lazy("Too many likes; slow down."), details={"retry_after": seconds_round_up(seconds_left)}
            )
        await state.likes_add(self.stream_id, count)

    # --- Host actions ------------------------------------------------------------------------------

    async def actor(self) -> User:
        """The host's User row, for the services their actions call (read once, on the first action)."""
        if self.user is None:
            self.user = await database_sync_to_async(User.objects.get)(pk=self.user_id)
        return self.user

    def require_host(self) -> None:
        if not self.is_host:
            raise NotStreamHost()

    async def on_host_pin(self, payload: dict) -> None:
        self.require_host()
        message_id = _validated(PinSerializer, payload)["message_id"]
        history = await room_state().history_get(self.stream_id)
        message = next((m for m in history if m.get("id") == message_id), None)
        if message is None:
            raise NotFound(gettext_lazy("No such recent message."))
        await database_sync_to_async(services.stream_message_pin)(
            stream_id=self.stream_id, by=await self.actor(), message=message
        )

    async def on_host_unpin(self, payload: dict) -> None:
        self.require_host()
        _validated(serializers.Serializer, payload)
        await database_sync_to_async(services.stream_message_pin)(
            stream_id=self.stream_id, by=await self.actor(), message=None
        )

    async def on_host_mute(self, payload: dict) -> None:
        self.require_host()
        data = _validated(MuteSerializer, payload)
        await database_sync_to_async(services.stream_viewer_mute)(
            stream_id=self.stream_id, user_id=data["user_id"], by=await self.actor(), minutes=data.get("minutes")
        )

    async def on_host_unmute(self, payload: dict) -> None:
        self.require_host()
        data = _validated(UserTargetSerializer, payload)
        await database_sync_to_async(services.stream_viewer_unmute)(
            stream_id=self.stream_id, user_id=data["user_id"], by=await self.actor()
        )

    async def on_host_kick(self, payload: dict) -> None:
        self.require_host()
        data = _validated(KickSerializer, payload)
        await database_sync_to_async(services.stream_viewer_kick)(
            stream_id=self.stream_id, user_id=data["user_id"], by=await self.actor(), reason=data["reason"]
        )

    async def on_host_chat_mode(self, payload: dict) -> None:
        self.require_host()
        data = _validated(ChatModeSerializer, payload)
        await database_sync_to_async(services.stream_chat_settings_set)(
            stream_id=self.stream_id,
            by=await self.actor(),
            mode=data["mode"],
            slow_mode_seconds=data.get("slow_mode_seconds"),
        )

    # --- Room moderator actions (the host and the host's room moderators) -------------------------
    # The services check who may act on every frame (an appointment can end while a socket is open).

    async def on_moderator_pin(self, payload: dict) -> None:
        message_id = _validated(PinSerializer, payload)["message_id"]
        history = await room_state().history_get(self.stream_id)
        message = next((m for m in history if m.get("id") == message_id), None)
        if message is None:
            raise NotFound(gettext_lazy("No such recent message."))
        await database_sync_to_async(services.stream_message_pin)(
            stream_id=self.stream_id, by=await self.actor(), message=message
        )

    async def on_moderator_unpin(self, payload: dict) -> None:
        _validated(serializers.Serializer, payload)
        await database_sync_to_async(services.stream_message_pin)(
            stream_id=self.stream_id, by=await self.actor(), message=None
        )

    async def on_moderator_mute(self, payload: dict) -> None:
        data = _validated(MuteSerializer, payload)
        await database_sync_to_async(services.stream_viewer_mute)(
            stream_id=self.stream_id, user_id=data["user_id"], by=await self.actor(), minutes=data.get("minutes")
        )

    async def on_moderator_unmute(self, payload: dict) -> None:
        data = _validated(UserTargetSerializer, payload)
        await database_sync_to_async(services.stream_viewer_unmute)(
            stream_id=self.stream_id, user_id=data["user_id"], by=await self.actor()
        )

    async def on_moderator_kick(self, payload: dict) -> None:
        data = _validated(KickSerializer, payload)
        await database_sync_to_async(services.stream_viewer_kick)(
            stream_id=self.stream_id, user_id=data["user_id"], by=await self.actor(), reason=data["reason"]
        )

    async def on_moderator_delete(self, payload: dict) -> None:
        message_id = _validated(PinSerializer, payload)["message_id"]
        history = await room_state().history_get(self.stream_id)
        message = next((m for m in history if m.get("id") == message_id), None)
        # Refused (not a moderator, the host's message) before anything changes; then out of the
        # history, so sockets that join later never see it.
        await database_sync_to_async(services.stream_message_delete)(
            stream_id=self.stream_id, by=await self.actor(), message_id=message_id, message=message
        )
        await room_state().history_remove(self.stream_id, message_id)

    async def on_chat_approve(self, payload: dict) -> None:
        message_id = _validated(HeldMessageSerializer, payload)["message_id"]
        await database_sync_to_async(chat_hold_decide)(
            stream_id=self.stream_id, message_id=message_id, by=await self.actor(), approve=True
        )

    async def on_chat_reject(self, payload: dict) -> None:
        message_id = _validated(HeldMessageSerializer, payload)["message_id"]
        await database_sync_to_async(chat_hold_decide)(
            stream_id=self.stream_id, message_id=message_id, by=await self.actor(), approve=False
        )

    HANDLERS = {
        "ping": on_ping,
        "chat.send": on_chat_send,
        "chat.approve": on_chat_approve,
        "chat.reject": on_chat_reject,
        "like.send": on_like_send,
        "host.pin": on_host_pin,
        "host.unpin": on_host_unpin,
        "host.mute": on_host_mute,
        "host.unmute": on_host_unmute,
        "host.kick": on_host_kick,
        "host.chat_mode": on_host_chat_mode,
        "moderator.pin": on_moderator_pin,
        "moderator.unpin": on_moderator_unpin,
        "moderator.mute": on_moderator_mute,
        "moderator.unmute": on_moderator_unmute,
        "moderator.kick": on_moderator_kick,
        "moderator.delete": on_moderator_delete,
    }

    # --- Layer messages (delivered by this process's room and user subscriptions) -----------------

    def rules_note(self, event: dict[str, Any]) -> None:
        """Note the room events that change this socket's chat rules (and its user's role)."""
        self.chat.note(event)
        if event.get("type") in MODERATOR_EVENTS and not self.is_host:
            self.moderator_note(event)

    def moderator_note(self, event: dict[str, Any]) -> None:
        """The host appointed or removed this socket's user as a room moderator: their messages
        carry the new role from now on."""
        payload = event.get("payload") or {}
        added = event["type"] == "room.moderator_added"
        user_id = (payload.get("user") or {}).get("id") if added else payload.get("user_id")
        if user_id == self.user_id:
            self.role = "moderator" if added else "viewer"
            self.author = {**self.author, "role": self.role}
            self.sees_all_chat = chat_sees_everything(role=self.role, is_staff=self.is_staff)
            socket_sees_all_chat_changed(self)
