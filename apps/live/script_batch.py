"""A Lua script whose calls made in the same event-loop turn reach Redis as one pipeline.

Sockets connect in bursts, and each connect calls the same scripts (apps.live.room_join's access
check, apps.live.room_state's welcome). One command each costs a write and a read on the Redis
connection, and on a loaded machine that system call and the loopback's TCP work are most of a
connect's Redis cost; the connects that reach the script in one turn of the loop now share them.
Each call still gets its own result (or its own error), as if it had been sent alone.
"""

import asyncio
from typing import Any

from redis.exceptions import NoScriptError


class BatchedScript:
    """`await script(keys=[...], args=[...])`, like redis-py's registered scripts (one event loop)."""

    def __init__(self, client: Any, source: str) -> None:
        self.client = client
        self.script = client.register_script(source)  # its sha; it loads the script when Redis lacks it
        self.pending: list[tuple[list[Any], list[Any], asyncio.Future[Any]]] = []
        self.flushing: set[asyncio.Task[None]] = set()

    async def __call__(self, *, keys: list[Any], args: list[Any]) -> Any:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self.pending.append((keys, args, future))
        if len(self.pending) == 1:
            loop.call_soon(self._flush)  # after every other callback of this turn had its chance to call
        return await future

    def _flush(self) -> None:
        batch, self.pending = self.pending, []
        task = asyncio.get_running_loop().create_task(self._send(batch))
        self.flushing.add(task)  # referenced until done
        task.add_done_callback(self.flushing.discard)

    async def _send(self, batch: list[tuple[list[Any], list[Any], asyncio.Future[Any]]]) -> None:
        try:
            if len(batch) == 1:
                keys, args, _ = batch[0]
                results: list[Any] = [await self.script(keys=keys, args=args)]
            else:
                results = await self._pipelined(batch)
        except asyncio.CancelledError:
            for _, _, future in batch:
                future.cancel()
            raise
        except Exception as exc:  # the connection failed: every caller of the batch gets the error
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, _, future), result in zip(batch, results, strict=True):
            if future.done():  # its caller went away (the socket closed)
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)

    async def _pipelined(self, batch: list[tuple[list[Any], list[Any], asyncio.Future[Any]]]) -> list[Any]:
        for attempt in range(2):
            async with self.client.pipeline(transaction=False) as pipe:
                for keys, args, _ in batch:
                    pipe.evalsha(self.script.sha, len(keys), *keys, *args)
                results = await pipe.execute(raise_on_error=False)
            if attempt or not any(isinstance(result, NoScriptError) for result in results):
                return results
            await self.client.script_load(self.script.script)  # Redis restarted or was flushed: load, once more
        raise AssertionError("unreachable")
