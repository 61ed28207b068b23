"""Per-process fan-out: a daphne process listens to each room (and each user) group once.

When every socket was its own member of `stream_<id>`, one chat message in a 1,000-viewer room
cost each process 1,000 channel-layer deliveries, 1,000 consumer dispatches and 1,000 JSON
encodes, and the server fell behind at ~2,900 deliveries/s. Now a process holds one layer channel
per group it has sockets for, read by one task: the room encodes an event once and writes the
same text frame to each of its local sockets, in the order the layer delivered the messages.

Groups and layer messages are unchanged (apps.live.events), so any number of daphne processes
can hold sockets of the same room; the embedded default's in-memory layer works the same way.
"""

import asyncio
import logging
from typing import Any

from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)

# The core and in-memory layers drop a group member after their group_expiry (a day by default)
# and a process's subscription to a room can outlive that: memberships are renewed every hour.
RENEW_SECONDS = 3600
_active: set["Subscription"] = set()
_renewer: asyncio.Task | None = None


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


async def subscription_join(registry: dict[str, Subscription], group: str, sock: Any, factory) -> Subscription:
    """Add `sock` to this process's subscription to `group`, making it (factory(group, registry)) if needed."""
    sub = registry.get(group)
    if sub is None:
        sub = registry[group] = factory(group, registry)
    sub.sockets.add(sock)
    try:
        await sub.started()
    except BaseException:
        sub.sockets.discard(sock)
        raise
    return sub


def subscription_leave(registry: dict[str, Subscription], group: str, sock: Any) -> Subscription | None:
    """Remove `sock`; the last local socket ends the subscription. Returns it while it still serves others."""
    sub = registry.get(group)
    if sub is None:
        return None
    sub.sockets.discard(sock)
    if not sub.sockets:
        sub.stop()
        return None
    return sub
