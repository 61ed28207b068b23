"""Gift storm benchmark: what each viewer of one room receives while gifts pour in, with and without combos.

    flock /tmp/halobuzz-bench.lock env DATABASE_URL=postgres://postgres@127.0.0.1:5432/halobuzz_combos \\
    REDIS_URL=redis://127.0.0.1:6392/3 SECRET_KEY=bench-secret-0123456789abcdef0123456789abcdef \\
    .venv/bin/python tests/bench/bench_gift_storm.py

Phases (about a minute and a half with the defaults):
1. ceiling: the bare Redis pub/sub channel layer (tests/bench/ceilings/channel_layer_fanout.py, on
   our Redis database) delivering into one group of --viewers members; divided by the members, the
   most frames per viewer per second the layer itself carries into a room this size;
2. one storm per mode, each in a fresh live stream on a fresh daphne (pub/sub layer): `per-send`
   (LIVE_GIFT_COMBOS=false: every send is its own `gift.sent`, as before combos) and `combos`.
   --viewers raw WebSocket viewers (two client processes) watch; --senders users send a 1-coin gift
   through the gift service (`gift_send`: the real statement, ledger and all) from --send-procs
   processes, paced to --rate sends/s in all for --seconds; then the viewers wait out the combo
   window (the streaks' last frames) and report.

Figures per mode: sends made and the rate reached; gift frames and all frames per viewer per second
of storm, each as a share of the ceiling; daphne's CPU seconds per storm second; the senders' CPU
per send (combos add a Redis script per batch of sends in the layer sender thread). Checks: every
viewer heard every send (per-send: one `gift.sent` each; combos: the ended streaks' counts add up
to the sends), and the ledger holds one gift entry per send.

Every step prints what it starts; a step that stops getting anywhere fails saying what it waited
for, and the whole run is bounded by --timeout (every thread's stack is printed, daphne stopped).

Each figure is printed with the load average before and after its run: other work on this 2-core
machine moves absolute figures by a third from run to run; the ratios to the ceiling and the
per-send/combos comparison within one run are what to read.

Figures (final code, --send-procs 3, load average 16-29 on the 2 shared cores from other work): the
bare pub/sub layer carried 27,000-78,000 deliveries/s into 100 members (270-780 frames per viewer
per second); the gift service reached only 61-139 sends/s of the 200 asked (CPU-bound on this
load). 20 senders: per-send 78-92 gift frames per viewer per second (0.12-0.13x the ceiling, 1.00
per send) -> combos 28.5-36.6 (0.04-0.05x, 0.35-0.43 per send). 5 senders tapping faster: 61.1 ->
10.6 (0.076 per send). Every viewer heard every send in every run (combos: the ended streaks'
counts add up to the sends) and the ledger held one entry per send. At the full 200 sends/s from 20
senders (10 taps/s each), combos would give about 20 streaks x 2 frames/s = ~40 per viewer per
second against 200: the gain grows with taps per sender, as the frame interval caps each streak.
"""

import argparse
import contextlib
import faulthandler
import functools
import json
import multiprocessing as mp
import os
import queue
import resource
import signal
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.bench.bench_rooms import (  # noqa: E402  (the repository is put on the path above)
    CONNECT_CONCURRENCY,
    RawViewer,
    ceiling,
    daphne_for,
    raise_fd_limit,
)

print = functools.partial(print, flush=True)  # noqa: A001  (figures appear as they are measured)
MODES = {"per-send": "false", "combos": "true"}
WINDOW_MS = 3000  # the default LIVE_GIFT_COMBO_WINDOW_MS, set explicitly for both daphne and senders
FRAME_MS = 500  # the default LIVE_GIFT_COMBO_FRAME_MS


class StormViewer(RawViewer):
    """Counts frames without parsing them; only a streak's ended frame is read (for its count)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.frames = self.gift_sent = self.gift_combo = self.ended_count = 0

    def frame(self, opcode: int, payload: bytes) -> None:
        if opcode != 1 or not self.welcome.done():
            super().frame(opcode, payload)
            return
        self.frames += 1
        head = payload[:24]
        if b'"gift.sent"' in head:
            self.gift_sent += 1
        elif b'"gift.combo"' in head:
            self.gift_combo += 1
            if b'"ended": true' in payload:
                self.ended_count += json.loads(payload)["payload"]["count"]


def viewer_worker(targets, ready_q, stop, result_q) -> None:
    import asyncio

    raise_fd_limit()

    async def main():
        sem = asyncio.Semaphore(CONNECT_CONCURRENCY)

        async def one(url, token):
            parts = urlsplit(url)
            async with sem:
                loop = asyncio.get_running_loop()
                for attempt in range(4):
                    try:
                        _, viewer = await loop.create_connection(
                            lambda: StormViewer(parts.path, token, None), parts.hostname, parts.port
                        )
                        async with asyncio.timeout(60):
                            await viewer.welcome
                        return viewer
                    except Exception:
                        if attempt == 3:
                            return None
                        await asyncio.sleep(0.5 * (attempt + 1))
            return None

        viewers = [v for v in await asyncio.gather(*(one(u, t) for u, t in targets)) if v is not None]
        ready_q.put(len(viewers))
        while not stop.is_set():
            await asyncio.sleep(0.1)
        result_q.put(
            [
                {"frames": v.frames, "sent": v.gift_sent, "combo": v.gift_combo, "ended_count": v.ended_count}
                for v in viewers
            ]
        )
        for v in viewers:
            v.transport.abort()

    asyncio.run(main())


def sender_worker(combos: bool, stream_id: int, sender_ids: list[int], gift_id: int, rate: float, seconds: float, out):
    """Send at `rate` for `seconds` (catching up when behind, never bursting ahead)."""
    from django.conf import settings

    from apps.gifts.services import gift_send
    from apps.live.events import layer_messages_flush

    settings.LIVE_GIFT_COMBOS = combos
    settings.LIVE_GIFT_COMBO_WINDOW_MS = WINDOW_MS
    settings.LIVE_GIFT_COMBO_FRAME_MS = FRAME_MS
    sent, started = 0, time.perf_counter()
    while True:
        now = time.perf_counter()
        if now - started >= seconds:
            break
        due = started + sent / rate
        if due > now:
            time.sleep(due - now)
        gift_send(sender_id=sender_ids[sent % len(sender_ids)], stream_id=stream_id, gift_id=gift_id, quantity=1)
        sent += 1
    elapsed = time.perf_counter() - started
    layer_messages_flush()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out.put((sent, elapsed, usage.ru_utime + usage.ru_stime))


STARTED = time.monotonic()


def say(line: str) -> None:
    """A progress line: seconds into the run, then what is happening."""
    print(f"{time.monotonic() - STARTED:6.0f} s  {line}")


def _get(q, timeout: float, what: str):
    """One result from a child process, or a failure that says what the run waited for."""
    try:
        return q.get(timeout=timeout)
    except queue.Empty:
        raise RuntimeError(f"waited {timeout:g} s for {what}; nothing came") from None


def watchdog(seconds: float) -> None:
    """Past `seconds`, print every thread's stack and stop (SIGTERM unwinds: daphne is stopped)."""

    def fire() -> None:
        print(f"[timeout] the run took over {seconds:g} s; stacks follow, then it stops")
        faulthandler.dump_traceback(all_threads=True)
        os.kill(os.getpid(), signal.SIGTERM)

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def storm(mode: str, tokens: list[str], world: dict, args) -> dict:
    from django.db import connections

    combos = MODES[mode] == "true"
    stream_id = new_stream(world["host_id"])
    connections.close_all()  # the forked processes must not share the parent's connection
    extra = {
        "LIVE_GIFT_COMBOS": MODES[mode],
        "LIVE_GIFT_COMBO_WINDOW_MS": str(WINDOW_MS),
        "LIVE_GIFT_COMBO_FRAME_MS": str(FRAME_MS),
    }
    ctx = mp.get_context("fork")
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(daphne_for("pubsub", extra=extra, tag=f"_storm_{mode}"))
        url = f"{server.ws}/ws/streams/{stream_id}/"
        ready_q, result_q, stop = ctx.Queue(), ctx.Queue(), ctx.Event()
        chunks = [tokens[i::2] for i in range(2)]
        clients = [
            ctx.Process(target=viewer_worker, args=([(url, t) for t in c], ready_q, stop, result_q), daemon=True)
            for c in chunks
        ]
        for p in clients:
            p.start()
        say(f"[{mode}] daphne up; connecting {len(tokens)} viewers")
        connected = sum(_get(ready_q, 300, f"{len(tokens)} viewers to connect") for _ in clients)
        say(f"[{mode}] {connected} viewers connected; storming {args.rate:g} sends/s for {args.seconds:g} s")
        time.sleep(1.0)  # the first presence and viewer-count frames go by
        load_before = os.getloadavg()[0]
        daphne_cpu = cpu_seconds(server.proc.pid)
        out = ctx.Queue()
        senders = world["sender_ids"]
        procs = [
            ctx.Process(
                target=sender_worker,
                args=(
                    combos,
                    stream_id,
                    senders[i :: args.send_procs],
                    world["gift_id"],
                    args.rate / args.send_procs,
                    args.seconds,
                    out,
                ),
            )
            for i in range(args.send_procs)
        ]
        for p in procs:
            p.start()
        results = [_get(out, args.seconds + 120, f"{args.send_procs} sender processes to finish") for _ in procs]
        say(f"[{mode}] {sum(r[0] for r in results)} sends made; waiting out the combo window")
        for p in procs:
            p.join(30)
        daphne_cpu = cpu_seconds(server.proc.pid) - daphne_cpu
        load_after = os.getloadavg()[0]
        time.sleep(WINDOW_MS / 1000 + 1.5)  # the streaks end (their last frames) and the backlog drains
        stop.set()
        viewers = [v for _ in clients for v in _get(result_q, 120, "the viewers' counts")]
        for p in clients:
            p.join(30)
    sent = sum(r[0] for r in results)
    storm_seconds = max(r[1] for r in results)
    heard_all = all((v["ended_count"] if combos else v["sent"]) == sent for v in viewers)
    n = max(len(viewers), 1)
    return {
        "mode": mode,
        "stream_id": stream_id,
        "connected": connected,
        "sent": sent,
        "seconds": storm_seconds,
        "rate": sent / storm_seconds,
        "gift_frames": sum(v["sent"] + v["combo"] for v in viewers) / n / storm_seconds,
        "frames": sum(v["frames"] for v in viewers) / n / storm_seconds,
        "heard_all": heard_all,
        "short": sum(1 for v in viewers if (v["ended_count"] if combos else v["sent"]) != sent),
        "daphne_cpu": daphne_cpu / storm_seconds,
        "sender_cpu_ms": 1000 * sum(r[2] for r in results) / max(sent, 1),
        "load": (load_before, load_after),
    }


def new_stream(host_id: int) -> int:
    from django.utils import timezone

    from apps.live.models import Stream
    from apps.live.services import stream_end

    for old in Stream.objects.filter(host_id=host_id, status__in=Stream.ACTIVE_STATUSES):
        stream_end(stream_id=old.pk, reason="bench reset")
    now = timezone.now()
    return Stream.objects.create(
        host_id=host_id, title="gift storm", status=Stream.Status.LIVE, started_at=now, last_heartbeat_at=now
    ).pk


def prepare(viewers: int, senders: int, coins_each: int) -> tuple[list[str], dict]:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "halobuzz.settings")
    os.environ.setdefault("MEDIA_STORAGE", "filesystem")
    os.environ.setdefault("LOG_LEVEL", "WARNING")  # no line per coin grant or stream end among the figures
    django.setup()
    from datetime import date

    from django.core.management import call_command
    from rest_framework_simplejwt.tokens import AccessToken

    from apps.accounts.models import User
    from apps.gifts.models import Gift
    from tests.wallet.factories import fund

    call_command("migrate", verbosity=0, interactive=False)
    names = [f"benchstorm_{i}" for i in range(1 + senders + viewers)]
    have = set(User.objects.filter(username__startswith="benchstorm_").values_list("username", flat=True))
    User.objects.bulk_create(
        [
            User(
                username=name,
                password="!",  # noqa: S106  (unusable: these accounts only hold JWTs)
                date_of_birth=date(1990, 1, 1),
                age_verification=User.AgeVerification.VERIFIED,
            )
            for name in names
            if name not in have
        ],
        batch_size=2000,
    )
    users = {u.username: u for u in User.objects.filter(username__in=names)}
    host = users[names[0]]
    sender_users = [users[name] for name in names[1 : 1 + senders]]
    for user in sender_users:
        fund(user, coins_each)
    gift, _ = Gift.objects.get_or_create(name="Bench storm rose", defaults={"coin_price": 1, "icon_url": "/r.png"})
    tokens = [str(AccessToken.for_user(users[name])) for name in names[1 + senders :]]
    return tokens, {"host_id": host.pk, "sender_ids": [u.pk for u in sender_users], "gift_id": gift.pk}


def ledger_entries(stream_id: int) -> tuple[int, int]:
    """(gift records, their gift ledger entries) of a stream."""
    from apps.gifts.models import GiftSend

    sends = GiftSend.objects.filter(stream_id=stream_id)
    return sends.count(), sends.filter(entry__kind="gift").values("entry_id").distinct().count()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--viewers", type=int, default=100, help="viewers in the room")
    parser.add_argument("--senders", type=int, default=20, help="users tapping the gift (each its own streak)")
    parser.add_argument("--rate", type=float, default=200.0, help="gift sends per second in all")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each storm")
    parser.add_argument("--send-procs", type=int, default=2, help="processes sending (as web workers do)")
    parser.add_argument("--ceiling-seconds", type=float, default=1.0, help="sending time of the bare layer run")
    parser.add_argument("--modes", default="per-send,combos")
    parser.add_argument("--ceiling-deliveries", type=int, default=3_000_000, help="cap on the ceiling's backlog")
    parser.add_argument("--timeout", type=float, default=900.0, help="the whole run fails past this many seconds")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a timeout unwinds: daphne is stopped
    watchdog(args.timeout)

    raise_fd_limit()
    load = os.getloadavg()
    print(f"cores: {os.cpu_count()}; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (shared machine)")
    modes = args.modes.split(",")
    coins_each = int(args.rate * args.seconds * 2 / args.senders) + 100
    tokens, world = prepare(args.viewers, args.senders, coins_each * len(modes))

    say(f"[ceiling] bare pub/sub layer into {args.viewers} members (at most {args.ceiling_deliveries:,} deliveries)")
    c = ceiling("pubsub", args.viewers, args.ceiling_seconds, args.ceiling_deliveries, say)
    per_viewer = c["delivery_rate"] / args.viewers
    print(
        f"[ceiling] bare pub/sub layer, {args.viewers} members: {c['delivery_rate']:,.0f} deliveries/s "
        f"= {per_viewer:,.0f} frames per viewer per second ({c['send_rate']:,.0f} group sends/s)"
    )
    runs = {}
    for mode in modes:
        r = runs[mode] = storm(mode, tokens, world, args)
        records, entries = ledger_entries(r["stream_id"])
        heard = "yes" if r["heard_all"] else f"NO ({r['short']} short)"
        print(
            f"[storm] {mode:8} {r['connected']} viewers, {args.senders} senders: {r['sent']} sends in "
            f"{r['seconds']:.1f} s = {r['rate']:.0f}/s (asked {args.rate:g}/s); per viewer per second: "
            f"{r['gift_frames']:.1f} gift frames ({r['gift_frames'] / per_viewer:.4f}x ceiling), "
            f"{r['frames']:.1f} frames in all ({r['frames'] / per_viewer:.4f}x ceiling); "
            f"{r['gift_frames'] / r['rate']:.3f} gift frames per viewer per send; daphne CPU "
            f"{r['daphne_cpu']:.2f} s/s; senders' CPU {r['sender_cpu_ms']:.2f} ms/send; every viewer heard "
            f"every send: {heard}; ledger: {records} gift "
            f"records, {entries} entries; load {r['load'][0]:.1f} -> {r['load'][1]:.1f}"
        )
    if {"per-send", "combos"} <= set(runs):
        before, after = runs["per-send"], runs["combos"]
        print(
            f"[result] gift frames per viewer per second: {before['gift_frames']:.1f} -> {after['gift_frames']:.1f} "
            f"({after['gift_frames'] / before['gift_frames']:.2f}x); per send (the storms' rates differ on a loaded "
            f"machine): {before['gift_frames'] / before['rate']:.3f} -> {after['gift_frames'] / after['rate']:.3f}; "
            f"daphne CPU {before['daphne_cpu']:.2f} -> "
            f"{after['daphne_cpu']:.2f} s/s"
        )
    load = os.getloadavg()
    print(f"load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
