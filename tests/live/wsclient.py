"""A small WebSocket client for room tests (the `websockets` library against a real daphne).

Every frame it receives is checked against the room contract (tests/live/room_contract.py).
"""

import asyncio
import json
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.live.room_contract import room_frame_check


class Room:
    def __init__(self, ws: ClientConnection):
        self.ws = ws
        self.seen: list[dict[str, Any]] = []

    @classmethod
    async def open(
        cls,
        base: str,
        stream_id: int,
        token: str | None = None,
        *,
        subprotocol: bool = False,
        origin: str | None = None,
    ) -> "Room":
        """Connect as a native app does (no Origin header), or as a browser page of `origin`."""
        url = f"{base}/ws/streams/{stream_id}/"
        if token and not subprotocol:
            url += f"?token={token}"
        ws = await connect(
            url,
            subprotocols=["jwt", token] if subprotocol and token else None,
            origin=origin,
            open_timeout=10,
        )
        return cls(ws)

    async def send(self, event_type: str, payload: dict | None = None, **extra: Any) -> None:
        await self.ws.send(json.dumps({"type": event_type, "payload": payload or {}, **extra}))

    async def send_raw(self, data: str | bytes) -> None:
        await self.ws.send(data)

    async def receive(self) -> dict[str, Any]:
        """The next frame, checked against the room contract and kept in `seen`."""
        event = json.loads(await self.ws.recv())
        room_frame_check(event)
        self.seen.append(event)
        return event

    async def next(self, *types: str, timeout: float = 5.0) -> dict[str, Any]:
        """The next event of one of `types` (other events are kept in `seen` and skipped)."""
        async with asyncio.timeout(timeout):
            while True:
                event = await self.receive()
                if not types or event["type"] in types:
                    return event

    async def until(self, event_type: str, check, timeout: float = 8.0) -> dict[str, Any]:
        """The first `event_type` event whose payload passes `check`."""
        async with asyncio.timeout(timeout):
            while True:
                event = await self.next(event_type, timeout=timeout)
                if check(event["payload"]):
                    return event

    async def drain(self, seconds: float) -> list[dict[str, Any]]:
        """Everything that arrives within `seconds`."""
        got = []
        try:
            async with asyncio.timeout(seconds):
                while True:
                    got.append(await self.receive())
        except (TimeoutError, ConnectionClosed):
            pass
        return got

    async def close_code(self, timeout: float = 5.0) -> int | None:
        """Wait for the server to close the socket; returns the close code."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    await self.receive()
        except ConnectionClosed:
            pass
        return self.ws.close_code

    async def close(self) -> None:
        await self.ws.close()


async def in_thread(fn, *args: Any, **kwargs: Any) -> Any:
    """Run ORM or HTTP-client code from a room scenario, closing the thread's database connection after."""
    from django.db import connection

    def run() -> Any:
        try:
            return fn(*args, **kwargs)
        finally:
            connection.close()

    return await asyncio.to_thread(run)


def run_scenario(scenario) -> Any:
    """asyncio.run(scenario()) in a fresh thread: Playwright's sync API may keep a loop running in this one."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(scenario())).result()
