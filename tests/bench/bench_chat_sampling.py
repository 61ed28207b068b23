"""Chat sampling benchmark: a busy room's chat over real WebSockets against daphne + Redis. Prints its figures.

    flock /tmp/halobuzz-bench.lock env DATABASE_URL=postgres://postgres@127.0.0.1:5432/halobuzz_rooms \\
    REDIS_URL=redis://127.0.0.1:6379/4 SECRET_KEY=bench-secret-0123456789abcdef0123456789abcdef \\
    .venv/bin/python tests/bench/bench_chat_sampling.py                      # short default run (~2 min)
    ... tests/bench/bench_chat_sampling.py --viewers 10000 --daphnes 2 --phases ceiling,sampled

Phases:
1. ceiling: the bare channel layer's fan-out into one group of --viewers members
   (tests/bench/ceilings/channel_layer_fanout.py, as bench_rooms.py runs it), on this Redis, now;
2. sampled: --viewers viewers (raw sockets in two client processes) spread over --daphnes daphne
   processes with sampling on (LIVE_CHAT_SAMPLING_THRESHOLD --threshold, LIVE_CHAT_SAMPLING_PER_SECOND
   --per-second); --chatters viewer sockets send --rate chats/s in turn for --seconds; the host's
   socket listens (it must get every message). Every delivery a viewer is shown is timed (the send
   time travels in the text) -> p50/p95/p99 of what is shown, delivered frames/s (and as a share of
   the ceiling), frames per viewer per second, and the daphne processes' CPU time (user + system,
   summed) per delivered frame, beside the bare layer's time per delivery (1 / its ceiling);
3. unsampled: the same room with sampling off (threshold 0), for comparison: every viewer is
   offered every message (skip it for 10,000 viewers: 1,000,000 frames/s is no goal).
The load average is printed before and after each phase: other work on this 2-core machine
shares the cores.

No phase can hang silently. Why the first 10,000-viewer run printed nothing for ten minutes: it
was in the ceiling phase, whose sender ran a full second of group sends (700-1,200 on this machine)
into 10,000 members, 7-12 million deliveries for one receiving process to drain at 40,000-140,000 a
second (one core busy: the load average of 1.0), while the parent waited silently up to
max(120 s, 4 x sends x members / 100,000), about 5-8 minutes, before giving up. Now the ceiling's
sends stop at --ceiling-deliveries / --viewers (1,000,000 by default: 100 sends into 10,000), it
prints its progress every 10 s, and fails saying what it waited for when nothing arrives (180 s
for the first delivery: under load 21 one run's receiver delivered nothing for 30 s); the connect
phase prints its count every 10 s and fails after 90 s without a connect or a failure; the chat
and collecting steps are bounded and print what they start; and the whole run is bounded by
--timeout (it then prints every thread's stack and exits, stopping its daphne processes).

Figures, default run (500 viewers, one daphne, 100 chats/s offered for 8 s), load average 5.5-6.4 on
2 cores: bare pub/sub layer 359,865 deliveries/s; sampled: the host got 800/800, each viewer was
shown ~4-5 chats/s (at most 34 of 800: the first 10, then 5/s), p50 63 ms, p95 135 ms, p99 182 ms,
2,307 frames/s (0.006x the ceiling), 165 µs of daphne CPU per delivered frame (the fixed cost of
taking in 100 chats/s, spread over few frames); unsampled: 100 chats/s to every viewer, 46,662
frames/s (0.13x), p50 302 ms, p95 751 ms, 17 µs per frame. At load average 21-27 the same run's
p95 was 2.9 s sampled and 6.3 s unsampled: on a busy machine the figures are its queue.
"""

import argparse
import asyncio
import contextlib
import faulthandler
import functools
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "bench"))

from bench_rooms import (  # noqa: E402  (the room benchmark's clients, daphne and ceiling)
    _open,
    ceiling,
    daphne_for,
    prepare,
    raise_fd_limit,
    start_clients,
    stop_clients,
)

print = functools.partial(print, flush=True)  # noqa: A001
TICKS = os.sysconf("SC_CLK_TCK")
STARTED = time.monotonic()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def load() -> str:
    return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def room_run(
    *,
    layer: str,
    stream_id: int,
    host_token: str,
    chat_tokens: list[str],
    tokens: list[str],
    rate: float,
    seconds: float,
    daphnes: int,
    threshold: int,
    per_second: int,
    budget: int,
) -> dict:
    extra = {
        "LIVE_CHAT_SAMPLING_THRESHOLD": str(threshold),
        "LIVE_CHAT_SAMPLING_PER_SECOND": str(per_second),
        "LIVE_CHAT_FRAMES_PER_SECOND_BUDGET": str(budget),
        "LIVE_FANOUT_FLUSH_MS": "50",
    }
    with contextlib.ExitStack() as stack:
        servers = [stack.enter_context(daphne_for(layer, extra, tag=f"_sampling_{i}")) for i in range(daphnes)]
        urls = [f"{server.ws}/ws/streams/{stream_id}/" for server in servers]
        say(f"  {daphnes} daphne up; connecting {len(tokens):,} viewers; load {load()}")
        procs, stop, result_q, ready, connect_s = start_clients(
            [(urls[i % daphnes], token) for i, token in enumerate(tokens)], processes=2, say=say
        )
        connected = sum(r[0] for r in ready)
        say(f"  {connected:,} viewers connected in {connect_s:.0f} s ({sum(r[1] for r in ready)} failed)")
        progress = procs[0].progress
        load_before = load()
        cpu_before = sum(cpu_seconds(s.proc.pid) for s in servers)

        async def chat() -> tuple[int, float, int]:
            host = await _open(urls[0], host_token)
            host_got = 0

            async def host_reads() -> None:
                nonlocal host_got
                while True:
                    if '"text": "bench ' in await host.recv():
                        host_got += 1

            reader = asyncio.ensure_future(host_reads())
            sockets = [await _open(urls[j % daphnes], t) for j, t in enumerate(chat_tokens)]
            drains = [asyncio.ensure_future(_discard(ws)) for ws in sockets]
            say(f"  host and {len(sockets)} chatters connected; chatting {rate:g}/s for {seconds:g} s")
            sent, t0 = 0, time.perf_counter()
            while (elapsed := time.perf_counter() - t0) < seconds:
                text = f"bench {sent} {time.time():.6f}"
                await sockets[sent % len(sockets)].send(json.dumps({"type": "chat.send", "payload": {"text": text}}))
                sent += 1
                await asyncio.sleep(max(0.0, sent / rate - (time.perf_counter() - t0)))
            # the host must get every message: wait while they still arrive (a loaded daphne lags)
            say(f"  sent {sent} in {elapsed:.1f} s; the host has {host_got}; waiting for the rest (5 s idle ends it)")
            seen, still_since = -1, time.monotonic()
            while host_got < sent and time.monotonic() - still_since < 5:
                if host_got != seen:
                    seen, still_since = host_got, time.monotonic()
                await asyncio.sleep(0.1)
            for task in (reader, *drains):
                task.cancel()
            await asyncio.gather(host.close(), *(ws.close() for ws in sockets), return_exceptions=True)
            return sent, elapsed, host_got

        async def bounded_chat() -> tuple[int, float, int]:
            try:
                async with asyncio.timeout(seconds + 180):  # the sockets' opening is bounded too
                    return await chat()
            except TimeoutError:
                raise RuntimeError(f"chat step: no end {seconds + 180:g} s after it began") from None

        sent, send_window, host_got = asyncio.run(bounded_chat())
        say(f"  host got {host_got}/{sent}; viewers have {sum(progress):,} deliveries; draining")
        # drain: until nothing arrived at the viewers for 3 s (or 25 s passed)
        deadline, last, still_since = time.monotonic() + 25, -1, time.monotonic()
        while time.monotonic() < deadline:
            got = sum(progress)
            if got != last:
                last, still_since = got, time.monotonic()
            elif time.monotonic() - still_since > 3:
                break
            time.sleep(0.2)
        cpu = sum(cpu_seconds(s.proc.pid) for s in servers) - cpu_before
        load_after = load()
        say(f"  {sum(progress):,} deliveries; collecting the clients' timings")
        results = stop_clients(procs, stop, result_q)
    latencies = sorted(x for r in results for x in r["latencies"])
    firsts = [r["first"] for r in results if r["first"]]
    lasts = [r["last"] for r in results if r["last"]]
    window = (max(lasts) - min(firsts)) if firsts else 0.0
    counts = [c for r in results for c in r["counts"]]

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000 if latencies else float("nan")

    return {
        "viewers": connected,
        "connect_s": connect_s,
        "sent": sent,
        "send_window": send_window,
        "host_got": host_got,
        "delivered": len(latencies),
        "rate": len(latencies) / window if window else 0.0,
        "window": window,
        # shown to a viewer a second, over the time the deliveries took (a lagging daphne spreads them)
        "per_viewer_s": (sum(counts) / len(counts) / max(window, send_window)) if counts else 0.0,
        "max_viewer": max(counts, default=0),
        "p50": pct(0.50),
        "p95": pct(0.95),
        "p99": pct(0.99),
        "cpu": cpu,
        "load": (load_before, load_after),
    }


def say(line: str) -> None:
    """A progress line (a long phase shows where it is)."""
    print(f"{time.monotonic() - STARTED:6.0f} s  {line}")  # seconds into the run (Django sets the local zone)


def watchdog(seconds: float) -> None:
    """Bound the whole run: past `seconds`, print every thread's stack and stop (SIGTERM unwinds,
    so the daphne processes are stopped); a run never sits silent for ever."""

    def fire() -> None:
        print(f"[timeout] the run took over {seconds:g} s; stacks follow, then it stops")
        faulthandler.dump_traceback(all_threads=True)
        os.kill(os.getpid(), signal.SIGTERM)

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()


async def _discard(ws) -> None:
    """A chatter reads what it is sent (so its TCP window never stalls the room)."""
    async for _ in ws:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--viewers", type=int, default=500)
    parser.add_argument("--daphnes", type=int, default=1)
    parser.add_argument("--rate", type=float, default=100.0, help="chat messages per second offered to the room")
    parser.add_argument("--chatters", type=int, default=20, help="viewer sockets sending that chat in turn")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--threshold", type=int, default=10, help="LIVE_CHAT_SAMPLING_THRESHOLD for the sampled run")
    parser.add_argument("--per-second", type=int, default=5, help="LIVE_CHAT_SAMPLING_PER_SECOND")
    parser.add_argument(
        "--budget",
        type=int,
        default=5000,
        help="LIVE_CHAT_FRAMES_PER_SECOND_BUDGET: sampled frames/s a daphne may write for the room (0: none)",
    )
    parser.add_argument("--layer", default="pubsub", choices=("pubsub", "core"))
    parser.add_argument("--ceiling-seconds", type=float, default=1.0)
    parser.add_argument(
        "--ceiling-deliveries",
        type=int,
        default=1_000_000,
        help="cap on the ceiling's backlog (its group sends stop at this / --viewers)",
    )
    parser.add_argument("--timeout", type=float, default=1500.0, help="the whole run fails past this many seconds")
    parser.add_argument("--phases", default="ceiling,sampled,unsampled")
    args = parser.parse_args()
    phases = args.phases.split(",")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    watchdog(args.timeout)

    fds = raise_fd_limit()
    print(f"open files limit: {fds}; cores: {os.cpu_count()}; load average {load()} (other work shares the cores)")
    say(f"preparing {args.viewers + args.chatters:,} users and their tokens")
    stream_id, host_token, tokens = prepare(args.viewers + args.chatters)
    viewer_tokens, chat_tokens = tokens[: args.viewers], tokens[args.viewers : args.viewers + args.chatters]

    bare = 0.0
    if "ceiling" in phases:
        before = load()
        say(f"[ceiling] {args.layer} bare layer into {args.viewers:,} members (at most {args.ceiling_deliveries:,})")
        c = ceiling(args.layer, args.viewers, args.ceiling_seconds, args.ceiling_deliveries, say)
        bare = c["delivery_rate"]
        print(
            f"[ceiling] {args.layer} bare layer, {args.viewers} members: {bare:,.0f} deliveries/s "
            f"({c['delivered']:,} of {c['expected']:,} delivered, {c['group_sends']:,} group sends) "
            f"({1e6 / bare if bare else float('nan'):.2f} µs each); load {before} -> {load()}"
        )

    for phase in ("sampled", "unsampled"):
        if phase not in phases:
            continue
        threshold = args.threshold if phase == "sampled" else 0
        say(f"[{phase}] starting")
        r = room_run(
            layer=args.layer,
            stream_id=stream_id,
            host_token=host_token,
            chat_tokens=chat_tokens,
            tokens=viewer_tokens,
            rate=args.rate,
            seconds=args.seconds,
            daphnes=args.daphnes,
            threshold=threshold,
            per_second=args.per_second,
            budget=args.budget,
        )
        per_frame_us = r["cpu"] / r["delivered"] * 1e6 if r["delivered"] else float("nan")
        share = f"{r['rate'] / bare:.3f}x the bare layer's {bare:,.0f}/s" if bare else "no ceiling run"
        cpu_share = f"{per_frame_us / (1e6 / bare):.1f}x the bare layer's time per delivery" if bare else ""
        print(f"[{phase}] daphne CPU {r['cpu']:.1f} s over {r['window']:.1f} s of deliveries")
        print(
            f"[{phase}] {args.daphnes} daphne, {r['viewers']} viewers (connected in {r['connect_s']:.0f} s), "
            f"{r['sent']} chats at {args.rate:g}/s offered from {args.chatters} viewers "
            f"(threshold {threshold or 'off'}, at most {args.per_second}/s a viewer, "
            f"budget {args.budget or 'off'} frames/s a daphne): "
            f"host got {r['host_got']}/{r['sent']}; viewers shown {r['per_viewer_s']:.1f} chats/s each "
            f"(most {r['max_viewer']} of {r['sent']}); "
            f"delivered {r['delivered']:,} frames at {r['rate']:,.0f}/s ({share}); "
            f"latency of what is shown p50 {r['p50']:.0f} ms, p95 {r['p95']:.0f} ms, p99 {r['p99']:.0f} ms "
            f"[target p95 < 250 ms]; daphne CPU {r['cpu']:.1f} s = {per_frame_us:.1f} µs per delivered frame "
            f"({cpu_share}); load {r['load'][0]} -> {r['load'][1]}"
        )
    print(f"load average at the end: {load()}")


if __name__ == "__main__":
    main()
