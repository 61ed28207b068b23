"""Ceiling of a bare channel layer's fan-out on this machine: group_send into one group of N members.

One receiving process holds one layer instance (as one daphne process does) with N channels, each
drained by its own receive loop; one sending process calls group_send as fast as it can for SECONDS.
Deliveries per second are counted at the receiver, from the first delivery to the last, after the
whole backlog has arrived. No Django and no sockets: the most a room could get from the layer.

    .venv/bin/python tests/bench/ceilings/channel_layer_fanout.py core|pubsub MEMBERS SECONDS [REDIS_URL]

tests/bench/bench_rooms.py runs it first, on the Redis database the rooms then use, and reports the
rooms' figures as a share of it.
"""

import asyncio
import multiprocessing as mp
import os
import sys
import time

LAYERS = ("core", "pubsub")
IDLE_SECONDS = 2.0  # the backlog is drained once nothing arrives for this long after the last send


def make_layer(kind: str, redis_url: str):
    if kind == "core":
        from channels_redis.core import RedisChannelLayer

        # Capacity for the whole backlog: the sender outruns the receiver and nothing may be dropped.
        return RedisChannelLayer(hosts=[redis_url], capacity=1_000_000, expiry=120, group_expiry=600)
    from channels_redis.pubsub import RedisPubSubChannelLayer

    return RedisPubSubChannelLayer(hosts=[{"address": redis_url}])


def receive(kind: str, redis_url: str, members: int, group: str, ready, sent_all, results) -> None:
    async def main() -> None:
        layer = make_layer(kind, redis_url)
        channels = [await layer.new_channel() for _ in range(members)]
        for channel in channels:
            await layer.group_add(group, channel)
        count, first, last = 0, None, None

        async def drain(channel: str) -> None:
            nonlocal count, first, last
            while True:
                await layer.receive(channel)
                last = time.perf_counter()
                first = first or last
                count += 1

        loops = [asyncio.create_task(drain(channel)) for channel in channels]
        await asyncio.sleep(1.0)  # every receive loop is waiting (pub/sub subscribes in them)
        ready.set()
        while not sent_all.is_set():
            await asyncio.sleep(0.2)
        seen = -1
        while count != seen:
            seen = count
            await asyncio.sleep(IDLE_SECONDS)
        results.put((count, (last - first) if first else 0.0))
        for task in loops:
            task.cancel()
        for channel in channels:
            await layer.group_discard(group, channel)

    asyncio.run(main())


def send(kind: str, redis_url: str, group: str, seconds: float, ready, sent_all, results) -> None:
    async def main() -> None:
        layer = make_layer(kind, redis_url)
        ready.wait()
        sent, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            await layer.group_send(group, {"type": "chat.message", "text": "gift: rose x1 from viewer123"})
            sent += 1
        results.put((sent, time.perf_counter() - started))
        sent_all.set()

    asyncio.run(main())


def run(kind: str, members: int, seconds: float, redis_url: str) -> dict:
    """One measurement: group sends and deliveries per second, with the counts behind them."""
    if kind not in LAYERS:
        raise ValueError(f"layer must be one of {LAYERS}, not {kind!r}")
    ctx = mp.get_context("fork")
    group = f"ceiling{os.getpid()}{kind}"
    ready, sent_all = ctx.Event(), ctx.Event()
    received, sent = ctx.Queue(), ctx.Queue()
    receiver = ctx.Process(target=receive, args=(kind, redis_url, members, group, ready, sent_all, received))
    sender = ctx.Process(target=send, args=(kind, redis_url, group, seconds, ready, sent_all, sent))
    receiver.start()
    sender.start()
    try:
        group_sends, send_window = sent.get(timeout=seconds + 60)
        # The backlog can be many times the sending time (pub/sub: thousands of group sends a second
        # times the members, drained at ~100,000 deliveries a second): wait for it, with room to spare.
        delivered, drain_window = received.get(timeout=max(120.0, 4 * group_sends * members / 100_000))
    finally:
        for proc in (sender, receiver):
            proc.join(5)
            if proc.is_alive():
                proc.kill()
    return {
        "group_sends": group_sends,
        "send_rate": group_sends / send_window,
        "expected": group_sends * members,
        "delivered": delivered,
        "delivery_rate": delivered / drain_window if drain_window else 0.0,
    }


if __name__ == "__main__":
    layer_kind, member_count, send_seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    url = sys.argv[4] if len(sys.argv) > 4 else "redis://127.0.0.1:6379/0"
    r = run(layer_kind, member_count, send_seconds, url)
    print(  # noqa: T201  (a benchmark prints its figures)
        f"{layer_kind} members={member_count} group_sends={r['group_sends']} send_rate={r['send_rate']:.0f}/s "
        f"expected={r['expected']} delivered={r['delivered']} delivery_rate={r['delivery_rate']:.0f}/s"
    )
