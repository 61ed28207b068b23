"""Ceiling of a bare channel layer's fan-out on this machine: group_send into one group of N members.

One receiving process holds one layer instance (as one daphne process does) with N channels, each
drained by its own receive loop; one sending process calls group_send as fast as it can for SECONDS.
Deliveries per second are counted at the receiver, from the first delivery to the last, after the
whole backlog has arrived. No Django and no sockets: the most a room could get from the layer.

The sender stops after SECONDS or once it has sent MAX / MEMBERS group sends (MAX: the most
deliveries, optional), whichever comes first: the backlog is group sends x members, and an
uncapped second of sends into 10,000 members (thousands of sends, tens of millions of deliveries,
drained at 0.07-0.4 million a second by one receiving process) kept a benchmark busy for over ten
minutes before it printed anything. The parent prints the receiver's progress and fails, saying
what it waited for, when the count stops moving.

    .venv/bin/python tests/bench/ceilings/channel_layer_fanout.py core|pubsub MEMBERS SECONDS [REDIS_URL [MAX]]

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
STALL_SECONDS = 30.0  # no delivery for this long while some are owed: the run fails
# ... but the first delivery may take longer: on a loaded machine (load average 21 on 2 cores) one
# receiving process still reading 10,000 subscription replies delivered nothing for 30 s.
FIRST_DELIVERY_SECONDS = 180.0
PROGRESS_SECONDS = 10.0  # how often a long drain reports its count


def make_layer(kind: str, redis_url: str):
    if kind == "core":
        from channels_redis.core import RedisChannelLayer

        # Capacity for the whole backlog: the sender outruns the receiver and nothing may be dropped.
        return RedisChannelLayer(hosts=[redis_url], capacity=1_000_000, expiry=120, group_expiry=600)
    from channels_redis.pubsub import RedisPubSubChannelLayer

    return RedisPubSubChannelLayer(hosts=[{"address": redis_url}])


def receive(kind: str, redis_url: str, members: int, group: str, ready, sent_all, results, progress) -> None:
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
                progress.value = count

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


def send(kind: str, redis_url: str, group: str, seconds: float, most: int, ready, sent_all, results) -> None:
    async def main() -> None:
        layer = make_layer(kind, redis_url)
        ready.wait()
        sent, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds and sent < most:
            await layer.group_send(group, {"type": "chat.message", "text": "gift: rose x1 from viewer123"})
            sent += 1
        results.put((sent, time.perf_counter() - started))
        sent_all.set()

    asyncio.run(main())


def run(kind: str, members: int, seconds: float, redis_url: str, max_deliveries: int | None = None, say=None) -> dict:
    """One measurement: group sends and deliveries per second, with the counts behind them.

    `max_deliveries` caps the group sends at max_deliveries / members; `say` (a print) gets progress
    lines while a long backlog drains. Raises RuntimeError when the receiver stops making progress."""
    if kind not in LAYERS:
        raise ValueError(f"layer must be one of {LAYERS}, not {kind!r}")
    most = max(1, max_deliveries // members) if max_deliveries else 1 << 62
    ctx = mp.get_context("fork")
    group = f"ceiling{os.getpid()}{kind}"
    ready, sent_all = ctx.Event(), ctx.Event()
    received, sent = ctx.Queue(), ctx.Queue()
    progress = ctx.Value("q", 0, lock=False)
    receiver = ctx.Process(
        target=receive, args=(kind, redis_url, members, group, ready, sent_all, received, progress), daemon=True
    )
    sender = ctx.Process(target=send, args=(kind, redis_url, group, seconds, most, ready, sent_all, sent), daemon=True)
    receiver.start()
    sender.start()
    try:
        # The receiver subscribes `members` channels first (a Redis round trip each) before the sender starts.
        group_sends, send_window = _wait(
            sent,
            progress,
            f"the sender's {seconds:g} s (receiver subscribing {members:,} channels)",
            120 + members / 100,
            say,
        )
        expected = group_sends * members
        if say:
            say(f"  [ceiling] {group_sends:,} group sends in {send_window:.1f} s; draining {expected:,} deliveries")
        delivered, drain_window = _wait(received, progress, f"{expected:,} deliveries", STALL_SECONDS, say, expected)
    finally:
        for proc in (sender, receiver):
            proc.join(5)
            if proc.is_alive():
                proc.kill()
    return {
        "group_sends": group_sends,
        "send_rate": group_sends / send_window,
        "expected": expected,
        "delivered": delivered,
        "delivery_rate": delivered / drain_window if drain_window else 0.0,
    }


def _wait(queue, progress, what: str, stall: float, say, expected: int = 0):
    """The queue's one result, printing the receiver's count now and then; fails when the count has
    not moved for `stall` seconds (a receiver that drains nothing will never report)."""
    import queue as queue_module

    last, moved, told = -1, time.monotonic(), time.monotonic()
    first_stall = max(stall, FIRST_DELIVERY_SECONDS) if expected else stall
    while True:
        try:
            return queue.get(timeout=1.0)
        except queue_module.Empty:
            pass
        now, count = time.monotonic(), progress.value
        if count != last:
            last, moved = count, now
        elif now - moved > (stall if count else first_stall):
            raise RuntimeError(
                f"ceiling stalled: waited for {what}; {count:,} delivered, none for {now - moved:.0f} s; "
                f"load average {os.getloadavg()[0]:.1f}"
            )
        if say and now - told >= PROGRESS_SECONDS:
            told = now
            say(f"  [ceiling] waiting for {what}: {count:,}{f' of {expected:,}' if expected else ''} delivered so far")


if __name__ == "__main__":
    layer_kind, member_count, send_seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    url = sys.argv[4] if len(sys.argv) > 4 else "redis://127.0.0.1:6379/0"
    cap = int(sys.argv[5]) if len(sys.argv) > 5 else None
    r = run(layer_kind, member_count, send_seconds, url, cap, say=print)
    print(  # noqa: T201  (a benchmark prints its figures)
        f"{layer_kind} members={member_count} group_sends={r['group_sends']} send_rate={r['send_rate']:.0f}/s "
        f"expected={r['expected']} delivered={r['delivered']} delivery_rate={r['delivery_rate']:.0f}/s"
    )
