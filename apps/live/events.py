"""Room events: the one way any app tells a stream's room that something happened.

Every event is `{"type": <event type>, "payload": {...}}` on the wire. Sending happens after the
surrounding transaction commits, so a rollback announces nothing.
"""

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)


def stream_group_name(stream_id: int) -> str:
    return f"stream_{stream_id}"


def room_event_send_now(*, stream_id: int, event_type: str, payload: dict[str, Any]) -> None:
    """Broadcast to every socket in the stream's room at once (callers outside a transaction)."""
    layer = get_channel_layer()
    # "room.event" is dispatched to the consumer's room_event handler, which relays it verbatim.
    async_to_sync(layer.group_send)(
        stream_group_name(stream_id), {"type": "room.event", "event": {"type": event_type, "payload": payload}}
    )


def room_event_publish(*, stream_id: int, event_type: str, payload: dict[str, Any]) -> None:
    """Broadcast after the current transaction commits (immediately when there is none)."""

    def send() -> None:
        try:
            room_event_send_now(stream_id=stream_id, event_type=event_type, payload=payload)
        except Exception:  # the write already committed; a lost broadcast must not turn it into an error
            logger.exception("room event not delivered", extra={"stream_id": stream_id, "event_type": event_type})

    transaction.on_commit(send)


def user_group_name(user_id: int) -> str:
    """Every room socket of a user also joins this group, so a ban or kick reaches all of them."""
    return f"user_{user_id}"


def user_sockets_close(*, user_id: int, reason: str, stream_id: int | None = None) -> None:
    """After commit, close the user's room sockets (all rooms, or one stream's): bans, kicks, suspensions."""

    def send() -> None:
        try:
            async_to_sync(get_channel_layer().group_send)(
                user_group_name(user_id), {"type": "session.close", "reason": reason, "stream_id": stream_id}
            )
        except Exception:
            logger.exception("socket close not delivered", extra={"user_id": user_id})

    transaction.on_commit(send)


def room_sockets_close(*, stream_id: int, reason: str) -> None:
    """After commit, tell every socket of the stream's room why and close it (the stream ended)."""

    def send() -> None:
        try:
            async_to_sync(get_channel_layer().group_send)(
                stream_group_name(stream_id), {"type": "session.close", "reason": reason, "stream_id": stream_id}
            )
        except Exception:
            logger.exception("room close not delivered", extra={"stream_id": stream_id})

    transaction.on_commit(send)


def user_event_publish(*, user_id: int, event_type: str, payload: dict[str, Any]) -> None:
    """After commit, send an event to every room socket of one user (invitations meant for a host)."""

    def send() -> None:
        try:
            async_to_sync(get_channel_layer().group_send)(
                user_group_name(user_id), {"type": "room.event", "event": {"type": event_type, "payload": payload}}
            )
        except Exception:
            logger.exception("user event not delivered", extra={"user_id": user_id, "event_type": event_type})

    transaction.on_commit(send)
