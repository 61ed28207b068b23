"""Room benchmark: one stream room over real WebSockets against daphne + Redis. Prints its figures.

    flock /tmp/halobuzz-bench.lock env DATABASE_URL=postgres://postgres@127.0.0.1:5432/halobuzz_rooms \\
    REDIS_URL=redis://127.0.0.1:6379/4 SECRET_KEY=bench-secret-0123456789abcdef0123456789abcdef \\
    .venv/bin/python tests/bench/bench_rooms.py

Phases (bounded: about ten minutes in all):
1. bare channel layer ceiling for each layer (tests/bench/ceilings/channel_layer_fanout.py, on
   our Redis database), 1,000 members; its sender runs --ceiling-seconds and the receiver drains
   the whole backlog before it reports;
2. chat fan-out for each layer and each daphne count (--daphnes 1,2): 1,000 viewers spread over
   the daphne processes, --chatters sockets (the host first) send --rate chats/s in turn, every
   delivery is timed (the send time travels in the text) -> deliveries/s, p50/p95/p99;
3. idle connections: N viewers (default 10,000) held by one daphne with the chosen layer -> RSS
   growth per connection, connect rate, all still open after an idle pause.
Viewers are raw asyncio protocols that only split frames and read the send time (a few
microseconds a frame), in two client processes; they share the machine's 2 cores with daphne,
Redis and whatever else runs.

Figures, final code, three full runs on the shared 2-core machine (load average 2-10 from other
work; medians): bare layer ceilings pubsub ~453,000 and core ~19,600 deliveries/s; fan-out at 25
chats/s in 1,000 viewers is delivered in full at ~24,900/s, p95 ~100 ms on one daphne with the
pub/sub layer (~0.05x its bare ceiling: each daphne takes one layer message per chat, so the
layer no longer limits; core's rooms reach ~1.25x its bare ceiling) and ~95 ms on two; when the
load average passed ~6, one daphne's p95 rose to 0.6-2 s while two stayed at 0.1-0.2 s. One
daphne keeps up to ~50 chats/s (50,000 deliveries/s) when the machine is quiet and tops out near
66,000/s. 10,000 idle viewers connect to one daphne (~70-85/s) and stay, at ~39-41 KiB each.
"""

import argparse
import asyncio
import base64
import contextlib
import functools
import importlib.util
import json
import multiprocessing as mp
import os
import resource
import signal
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
CEILING_SCRIPT = REPO / "tests" / "bench" / "ceilings" / "channel_layer_fanout.py"
print = functools.partial(print, flush=True)  # noqa: A001  (figures appear as they are measured)
CONNECT_CONCURRENCY = 16  # handshakes in flight per client process
LAYERS = {"core": "channels_redis.core.RedisChannelLayer", "pubsub": "channels_redis.pubsub.RedisPubSubChannelLayer"}


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# --- Phase 1: the bare channel layer (the ceiling script, on our Redis database) --------------------


def ceiling(kind: str, members: int, seconds: float, max_deliveries: int | None = None, say=None) -> dict:
    spec = importlib.util.spec_from_file_location("channel_layer_fanout", CEILING_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.run(kind, members, seconds, os.environ["REDIS_URL"], max_deliveries, say)


# --- Clients ------------------------------------------------------------------------------------------


class Tally:
    """What one client process saw: a latency per benchmark chat delivery, first and last arrival."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.first: float | None = None
        self.last: float | None = None


class RawViewer(asyncio.Protocol):
    """A viewer that costs the load generator almost nothing: a hand-made WebSocket handshake, then
    server frames (never masked) are split off the byte stream and counted; a benchmark chat's send
    time is read out of the raw text without parsing JSON. Pings are answered, so a viewer stays
    connected however long the connect phase takes."""

    def __init__(self, path: str, token: str, tally: "Tally"):
        self.path, self.token, self.tally = path, token, tally
        self.buf = bytearray()
        self.upgraded = False
        self.open = False
        self.received = 0
        self.welcome: asyncio.Future = asyncio.get_running_loop().create_future()
        self.transport = None

    def connection_made(self, transport) -> None:
        self.transport = transport
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write(
            (
                f"GET {self.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                f"Sec-WebSocket-Protocol: jwt, {self.token}\r\n\r\n"
            ).encode()
        )

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if b" 101 " not in buf[:16]:
                self._fail(RuntimeError(bytes(buf[:80])))
                return
            del buf[: end + 4]
            self.upgraded = self.open = True
        pos, n = 0, len(buf)
        while n - pos >= 2:
            size, head = buf[pos + 1] & 0x7F, 2
            if size == 126:
                if n - pos < 4:
                    break
                size, head = int.from_bytes(buf[pos + 2 : pos + 4], "big"), 4
            elif size == 127:
                if n - pos < 10:
                    break
                size, head = int.from_bytes(buf[pos + 2 : pos + 10], "big"), 10
            if n - pos < head + size:
                break
            self.frame(buf[pos] & 0x0F, bytes(buf[pos + head : pos + head + size]))
            pos += head + size
        del buf[:pos]

    def frame(self, opcode: int, payload: bytes) -> None:
        if opcode == 1:
            if not self.welcome.done():
                if b'"room.welcome"' in payload[:40]:
                    self.welcome.set_result(True)
                else:
                    self._fail(RuntimeError(payload[:200]))
                return
            at = payload.find(b'"text": "bench ')
            if at >= 0:
                now = time.time()
                text = payload[at + 15 : payload.find(b'"', at + 15)].split()
                self.received += 1
                tally = self.tally
                tally.latencies.append(now - float(text[1]))
                tally.last = now
                if tally.first is None:
                    tally.first = now
        elif opcode == 9:  # ping: a masked pong with a zero key echoes the payload
            self.transport.write(bytes((0x8A, 0x80 | len(payload))) + b"\0\0\0\0" + payload)
        elif opcode == 8:
            self.open = False
            self.transport.close()

    def _fail(self, exc: Exception) -> None:
        if not self.welcome.done():
            self.welcome.set_exception(exc)
        self.transport.close()

    def connection_lost(self, exc) -> None:
        self.open = False
        if not self.welcome.done():
            self.welcome.set_exception(ConnectionError("closed before the welcome"))


async def _open_raw(host: str, port: int, path: str, token: str, tally: Tally, attempts: int = 4):
    """Connect and wait for the welcome; retried because daphne drops a handshake the app has not
    accepted within 5 s (its --websocket_connect_timeout), which happens on a saturated machine."""
    loop = asyncio.get_running_loop()
    for attempt in range(attempts):
        try:
            _, viewer = await loop.create_connection(lambda: RawViewer(path, token, tally), host, port)
            async with asyncio.timeout(60):
                await viewer.welcome
            return viewer
        except Exception:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")


async def _open(url: str, token: str):
    """The host's socket (the `websockets` library: it sends the chat)."""
    from websockets.asyncio.client import connect

    ws = await connect(url, subprotocols=["jwt", token], open_timeout=60, ping_interval=None, max_queue=None)
    welcome = json.loads(await ws.recv())
    if welcome["type"] != "room.welcome":
        raise RuntimeError(welcome)
    return ws


def client_worker(
    targets: list[tuple[str, str]], ready_q, stop, result_q, progress, joined, slot: int, deadline: float
):
    """Hold a socket per (url, token); every benchmark chat message a socket receives is timed."""
    raise_fd_limit()

    async def main():
        sem = asyncio.Semaphore(CONNECT_CONCURRENCY)
        failures = 0
        tally = Tally()

        async def one(url, token):
            nonlocal failures
            parts = urlsplit(url)
            async with sem:
                if time.time() > deadline:  # the connect phase is bounded: report what daphne took
                    return None
                try:
                    viewer = await _open_raw(parts.hostname, parts.port, parts.path, token, tally)
                except Exception:
                    failures += 1
                    joined[2 * slot + 1] = failures
                    return None
                joined[2 * slot] += 1  # the parent prints the connect phase's progress
                return viewer

        t0 = time.perf_counter()
        viewers = [v for v in await asyncio.gather(*(one(u, t) for u, t in targets)) if v is not None]
        ready_q.put((len(viewers), failures, time.perf_counter() - t0))
        while not stop.is_set():
            progress[slot] = len(tally.latencies)
            await asyncio.sleep(0.2)
        # read what is already on its way (a starved client lags behind the server), then report
        for _ in range(20):
            seen = len(tally.latencies)
            await asyncio.sleep(0.25)
            if len(tally.latencies) == seen:
                break
        open_now = sum(1 for v in viewers if v.open)
        counts = [v.received for v in viewers]
        for v in viewers:
            v.transport.abort()
        result_q.put(
            {"open": open_now, "counts": counts, "latencies": tally.latencies, "first": tally.first, "last": tally.last}
        )

    asyncio.run(main())


CONNECT_STALL_SECONDS = 90.0  # no viewer connected or failed for this long: the connect phase fails


def start_clients(targets: list[tuple[str, str]], processes: int, connect_seconds: float = 600, say=print):
    """Start the client processes and wait until each has connected its viewers (or given up at the
    deadline). Prints the count every 10 s; raises RuntimeError, saying what it waited for, when no
    viewer connected or failed for CONNECT_STALL_SECONDS (the client processes are then stopped)."""
    import queue

    ctx = mp.get_context("fork")
    ready_q, result_q, stop = ctx.Queue(), ctx.Queue(), ctx.Event()
    progress = ctx.Array("q", processes, lock=False)
    joined = ctx.Array("q", 2 * processes, lock=False)  # connected, failed: per process
    deadline = time.time() + connect_seconds
    chunks = [targets[i::processes] for i in range(processes)]
    procs = [
        ctx.Process(target=client_worker, args=(c, ready_q, stop, result_q, progress, joined, i, deadline), daemon=True)
        for i, c in enumerate(chunks)
    ]
    t0 = time.perf_counter()
    for p in procs:
        p.start()
    ready: list = []
    last, moved, told = (-1, -1), time.monotonic(), time.monotonic()
    try:
        while len(ready) < len(procs):
            try:
                ready.append(ready_q.get(timeout=1.0))
                continue
            except queue.Empty:
                pass
            now = time.monotonic()
            counts = (sum(joined[0::2]), sum(joined[1::2]))
            if counts != last:
                last, moved = counts, now
            elif now - moved > CONNECT_STALL_SECONDS or not all(p.is_alive() for p in procs):
                raise RuntimeError(
                    f"connect phase stalled: waited for {len(targets):,} viewers; {counts[0]:,} connected, "
                    f"{counts[1]:,} failed, none for {now - moved:.0f} s; client processes alive: "
                    f"{[p.is_alive() for p in procs]}"
                )
            if say and now - told >= 10:
                told = now
                say(
                    f"  [connect] {counts[0]:,} of {len(targets):,} viewers connected ({counts[1]:,} failed) "
                    f"after {time.perf_counter() - t0:.0f} s; load {os.getloadavg()[0]:.1f}"
                )
    except BaseException:
        stop.set()
        for p in procs:
            p.kill()
        raise
    connect_seconds = time.perf_counter() - t0
    procs[0].progress = progress
    return procs, stop, result_q, ready, connect_seconds


def stop_clients(procs, stop, result_q) -> list[dict]:
    """Stop the client processes and collect what each saw (fails, saying so, if one never reports)."""
    import queue

    stop.set()
    results = []
    for _ in procs:
        try:
            results.append(result_q.get(timeout=120))
        except queue.Empty:
            raise RuntimeError(
                f"client results: waited 120 s for {len(procs)} client processes, got {len(results)}; "
                f"alive: {[p.is_alive() for p in procs]}"
            ) from None
    for p in procs:
        p.join(30)
    return results


# --- Phase 2 and 3 --------------------------------------------------------------------------------------


def daphne_for(layer: str, extra: dict | None = None, tag: str = ""):
    from tests.live.servers import Daphne

    url = urlsplit(os.environ["DATABASE_URL"])
    env = {
        "CHANNEL_LAYER_BACKEND": LAYERS[layer],
        "DATABASE_URL": url.geturl(),
        "ALLOWED_HOSTS": "*",
        "SECURE_SSL_REDIRECT": "false",
        "LOG_LEVEL": "ERROR",
        "LIVE_CHAT_RATE_COUNT": "1000000",  # the host sends the benchmark's chat: no per-user limit
        **(extra or {}),
    }
    return Daphne(env, log_path=f"/tmp/halobuzz_bench_rooms_{layer}{tag}.log")


def fanout(
    layer: str, stream_id: int, chat_tokens: list[str], tokens: list[str], rate: float, seconds: float, daphnes: int
) -> dict:
    """Viewers spread over `daphnes` processes; the chatters (the host first) chat at `rate` in all."""
    with contextlib.ExitStack() as stack:
        servers = [stack.enter_context(daphne_for(layer, tag=f"_{i}")) for i in range(daphnes)]
        urls = [f"{server.ws}/ws/streams/{stream_id}/" for server in servers]
        targets = [(urls[i % daphnes], token) for i, token in enumerate(tokens)]
        procs, stop, result_q, ready, connect_s = start_clients(targets, processes=2)
        connected = sum(r[0] for r in ready)

        async def send():
            # The chat comes from `chatters` sockets in turn (the host first), spread over the daphnes:
            # one socket's frames are handled one after another, and no real viewer sends 25 a second.
            sockets = [await _open(urls[j % daphnes], t) for j, t in enumerate(chat_tokens)]
            sent, t0 = 0, time.perf_counter()
            while (elapsed := time.perf_counter() - t0) < seconds:
                text = f"bench {sent} {time.time():.6f}"
                await sockets[sent % len(sockets)].send(json.dumps({"type": "chat.send", "payload": {"text": text}}))
                sent += 1
                await asyncio.sleep(max(0.0, sent / rate - (time.perf_counter() - t0)))
            await asyncio.sleep(0)
            await asyncio.gather(*(ws.close() for ws in sockets))
            return sent, elapsed

        load_before = os.getloadavg()[0]
        sent, send_window = asyncio.run(send())
        expected = sent * connected
        # drain: until every delivery arrived, or nothing arrived for 5 s, or 25 s passed
        progress, deadline, last, still_since = procs[0].progress, time.monotonic() + 25, -1, time.monotonic()
        while time.monotonic() < deadline:
            got = sum(progress)
            if got >= expected:
                break
            if got != last:
                last, still_since = got, time.monotonic()
            elif time.monotonic() - still_since > 5:
                break
            time.sleep(0.2)
        load_after = os.getloadavg()[0]
        results = stop_clients(procs, stop, result_q)
    latencies = sorted(x for r in results for x in r["latencies"])
    firsts = [r["first"] for r in results if r["first"]]
    lasts = [r["last"] for r in results if r["last"]]
    window = (max(lasts) - min(firsts)) if firsts else 0
    pct = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000 if latencies else float("nan")  # noqa: E731
    return {
        "viewers": connected,
        "daphnes": daphnes,
        "connect_s": connect_s,
        "sent": sent,
        "offered_rate": sent * connected / send_window,
        "expected": expected,
        "delivered": len(latencies),
        "short": sum(1 for r in results for c in r["counts"] if c < sent),
        "rate": len(latencies) / window if window else 0.0,
        "p50": pct(0.50),
        "p95": pct(0.95),
        "p99": pct(0.99),
        "max": latencies[-1] * 1000 if latencies else float("nan"),
        "mean": statistics.fmean(latencies) * 1000 if latencies else float("nan"),
        "load": (load_before, load_after),
    }


def idle(layer: str, stream_id: int, tokens: list[str], pause: float, connect_seconds: float) -> dict:
    with daphne_for(layer, {"LIVE_PRESENCE_REFRESH_SECONDS": "5"}) as server:
        url = f"{server.ws}/ws/streams/{stream_id}/"
        # one socket warms the room up (layer subscription, ticker) before the baseline
        warm_procs, warm_stop, warm_q, _, _ = start_clients([(url, tokens[0])], processes=1)
        time.sleep(1)
        base = server.rss_kib()
        procs, stop, result_q, ready, connect_s = start_clients(
            [(url, t) for t in tokens[1:]], processes=2, connect_seconds=connect_seconds
        )
        connected = sum(r[0] for r in ready)
        failures = sum(r[1] for r in ready)
        time.sleep(pause)
        after = server.rss_kib()
        results = stop_clients(procs, stop, result_q)
        warm = stop_clients(warm_procs, warm_stop, warm_q)
    return {
        "warm_open": warm[0]["open"],
        "connected": connected,
        "failures": failures,
        "still_open": sum(r["open"] for r in results),
        "connect_s": connect_s,
        "rss_base_mib": base / 1024,
        "rss_after_mib": after / 1024,
        "kib_per_conn": (after - base) / connected if connected else float("nan"),
    }


# --- Data -----------------------------------------------------------------------------------------------


def prepare(n_users: int):
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "halobuzz.settings")
    os.environ.setdefault("MEDIA_STORAGE", "filesystem")  # no media in a room benchmark: no buckets needed
    django.setup()
    from datetime import date

    from django.core.management import call_command
    from rest_framework_simplejwt.tokens import AccessToken

    from apps.accounts.models import User
    from apps.live.models import Stream
    from apps.live.services import stream_end

    call_command("migrate", verbosity=0, interactive=False)
    have = set(User.objects.filter(username__startswith="benchroom_").values_list("username", flat=True))
    User.objects.bulk_create(
        [
            User(
                username=f"benchroom_{i}",
                password="!",  # noqa: S106  (unusable: these accounts only hold JWTs)
                date_of_birth=date(1990, 1, 1),
                age_verification=User.AgeVerification.VERIFIED,
            )
            for i in range(n_users + 1)
            if f"benchroom_{i}" not in have
        ],
        batch_size=2000,
    )
    host = User.objects.get(username="benchroom_0")
    for old in Stream.objects.filter(host=host, status__in=Stream.ACTIVE_STATUSES):
        stream_end(stream_id=old.pk, reason="bench reset")
    from django.utils import timezone

    stream = Stream.objects.create(
        host=host,
        title="bench room",
        status=Stream.Status.LIVE,
        started_at=timezone.now(),
        last_heartbeat_at=timezone.now(),
    )
    viewers = User.objects.filter(username__startswith="benchroom_").exclude(pk=host.pk).order_by("pk")[:n_users]
    tokens = [str(AccessToken.for_user(u)) for u in viewers]
    from django.db import connections

    connections.close_all()  # forked clients must not share the parent's connection
    return stream.pk, str(AccessToken.for_user(host)), tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--idle", type=int, default=10_000, help="idle viewers for one daphne")
    parser.add_argument("--viewers", type=int, default=1_000, help="viewers in the fan-out phase")
    parser.add_argument("--rate", type=float, default=25.0, help="chat messages per second sent into the room")
    parser.add_argument("--chatters", type=int, default=5, help="sockets sending that chat in turn (the host first)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each fan-out run")
    parser.add_argument("--ceiling-seconds", type=float, default=1.0, help="sending time of each bare layer run")
    parser.add_argument("--daphnes", default="1,2", help="daphne process counts for the fan-out phase")
    parser.add_argument("--layers", default="pubsub,core")
    parser.add_argument("--phases", default="ceiling,fanout,idle")
    parser.add_argument("--connect-seconds", type=float, default=240.0, help="bound on the idle connect phase")
    args = parser.parse_args()
    layers = args.layers.split(",")
    phases = args.phases.split(",")
    daphne_counts = [int(n) for n in args.daphnes.split(",")]
    # SIGTERM (a timeout) unwinds like Ctrl-C, so the daphne processes are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    fds = raise_fd_limit()
    load = os.getloadavg()
    print(
        f"open files limit: {fds}; cores: {os.cpu_count()}; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
        "(other work on this machine shares the cores)"
    )
    stream_id, host_token, tokens = prepare(max(args.idle, args.viewers) + args.chatters)
    chat_tokens = [host_token, *tokens[-(args.chatters - 1) :]] if args.chatters > 1 else [host_token]

    ceilings = {layer: {"delivery_rate": 0} for layer in layers}
    for layer in layers if "ceiling" in phases else []:
        ceilings[layer] = ceiling(layer, args.viewers, args.ceiling_seconds)
        c = ceilings[layer]
        print(
            f"[ceiling] {layer:6} bare layer, {args.viewers} members: {c['delivery_rate']:,.0f} deliveries/s "
            f"({c['send_rate']:,.0f} group sends/s, {c['delivered']:,} delivered)"
        )

    rooms = {}
    for layer in layers if "fanout" in phases else []:
        for n in daphne_counts:
            r = rooms[layer, n] = fanout(
                layer, stream_id, chat_tokens, tokens[: args.viewers], args.rate, args.seconds, daphnes=n
            )
            bare = ceilings[layer]["delivery_rate"]
            ratio = f"{r['rate'] / bare:.2f}x the bare {layer} layer's {bare:,.0f}/s" if bare else "no ceiling run"
            print(
                f"[fan-out] {layer:6} {n} daphne, {r['viewers']} viewers, {r['sent']} chats at {args.rate:g}/s "
                f"from {args.chatters} sockets "
                f"(offered {r['offered_rate']:,.0f} deliveries/s): delivered {r['delivered']:,}/{r['expected']:,} "
                f"({r['short']} viewers short) "
                f"at {r['rate']:,.0f}/s ({ratio}); latency p50 {r['p50']:.0f} ms, p95 {r['p95']:.0f} ms, "
                f"p99 {r['p99']:.0f} ms, max {r['max']:.0f} ms; load {r['load'][0]:.1f} -> {r['load'][1]:.1f} "
                f"[targets: 20,000/s, p95 < 250 ms]"
            )

    def score(layer):
        # Every run complete and under the p95 target first; then the delivered share of the offered
        # rate (to 1%: closer is noise); then the bare layer's ceiling (headroom for busier rooms).
        runs = [r for (name, _), r in rooms.items() if name == layer]
        ok = all(r["delivered"] >= 0.99 * r["expected"] and r["p95"] < 250 for r in runs)
        share = min(round(r["rate"] / r["offered_rate"], 2) for r in runs)
        return (ok, share, ceilings[layer]["delivery_rate"])

    tried = sorted({name for name, _ in rooms})
    chosen = max(tried, key=score) if rooms else layers[0]
    if rooms:
        print(f"[choice] layer with the best room figures: {chosen} ({LAYERS[chosen]})")

    if args.idle and "idle" in phases:
        i = idle(chosen, stream_id, tokens[: args.idle], pause=5.0, connect_seconds=args.connect_seconds)
        print(
            f"[idle] {chosen}: {i['connected'] + 1:,} viewers held by one daphne (one warm-up socket first), "
            f"connected in {i['connect_s']:.1f} s ({i['connected'] / i['connect_s']:,.0f}/s, {i['failures']} failed), "
            f"{i['still_open'] + i['warm_open']:,} still open "
            f"after 5 s (connecting bounded at {args.connect_seconds:g} s); "
            f"daphne RSS {i['rss_base_mib']:.0f} -> {i['rss_after_mib']:.0f} MiB = "
            f"{i['kib_per_conn']:.1f} KiB per connection [target: 10,000]"
        )
    load = os.getloadavg()
    print(f"load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
