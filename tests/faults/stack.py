"""The production stack of the fault suite, started here and nowhere else.

Every server is the suite's own, on free ports under one temporary directory, so it can be killed
and restarted without touching anything else on the machine: a PostgreSQL cluster (initdb), a
redis-server, gunicorn (sync workers) for the API, the admin and the payment sandbox, daphne for
the rooms and a Celery worker for the payment verifications.
"""

import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import redis
import requests
from kombu import Connection

from tests.live.servers import Daphne, free_port

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DB_NAME = "halobuzz"


def _pg_bin(name: str) -> str:
    """The newest PostgreSQL server binaries Debian installed (initdb and postgres are not on PATH)."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return found[-1]
    on_path = shutil.which(name)
    if on_path is None:
        raise RuntimeError(f"PostgreSQL's {name} is not installed")
    return on_path


def wait_until(check, *, timeout: float, interval: float = 0.2, what: str = "condition"):
    """Call `check` until it returns something truthy (returned) or `timeout` seconds pass (RuntimeError)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
        except Exception:  # noqa: BLE001 - a server on its way up refuses or resets: keep asking
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def children(pid: int) -> list[int]:
    """The live child processes of `pid` (gunicorn's workers, Celery's pool processes)."""
    found = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            text = Path(stat).read_text()
        except OSError:
            continue
        fields = text.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(Path(stat).parent.name))
    return sorted(found)


def _ready_lines(log: Path) -> int:
    """How many times a Celery worker said it was ready in this log."""
    return log.read_text(errors="replace").count(" ready.") if log.exists() else 0


class Postgres:
    """A PostgreSQL cluster of our own. initdb refuses to run as root: as root it runs as `postgres`."""

    def __init__(self, root: Path):
        self.dir = root / "pg"
        self.dir.mkdir()
        self.data = self.dir / "data"
        self.port = free_port()
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            shutil.chown(self.dir, "postgres")
        self._run(_pg_bin("initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")
        self.start()
        with self.connect("postgres") as conn:
            conn.execute(f"CREATE DATABASE {DB_NAME}")

    def _run(self, *args: str) -> None:
        command = ["runuser", "-u", "postgres", "--", *args] if self._as_postgres else list(args)
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{DB_NAME}"

    def connect(self, db: str = DB_NAME) -> psycopg.Connection:
        return psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname=db, autocommit=True)

    def start(self) -> None:
        # fsync off: a killed server keeps what it wrote in the kernel's page cache, which is all a
        # process crash needs (committed work is never acknowledged before its WAL is written).
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100"
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "log"), "-w", "-o", options, "start")

    def stop(self, mode: str = "fast") -> None:
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def crash_restart(self) -> None:
        """Stop like a crash (`-m immediate`: no checkpoint, recovery from the WAL at start), then start."""
        self.stop("immediate")
        self.start()

    def terminate_busy_backends(self) -> int:
        """pg_terminate_backend every session of the app's database that is running a statement or is
        inside a transaction. Returns how many were terminated."""
        with self.connect("postgres") as conn:
            rows = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()"
                " AND state IN ('active', 'idle in transaction', 'idle in transaction (aborted)')",
                [DB_NAME],
            ).fetchall()
        return sum(1 for (done,) in rows if done)


class Redis:
    """A redis-server of our own. Stopped with SHUTDOWN SAVE and started from its dump, as a Redis
    that keeps its data (the broker's queues, the sandbox's transactions) across a restart."""

    def __init__(self, root: Path):
        self.dir = root / "redis"
        self.dir.mkdir()
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)

    def start(self) -> None:
        with (self.dir / "log").open("ab") as log:
            self.proc = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir)]
                + ["--save", "", "--appendonly", "no", "--dbfilename", "dump.rdb"],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_until(lambda: self.client().ping(), timeout=20, what="redis-server")
        except RuntimeError:
            self.proc.kill()
            raise

    def stop(self) -> None:
        try:
            self.client().shutdown(save=True)
        except redis.ConnectionError:
            pass  # the server closes the connection as it goes
        if self.proc is not None:
            self.proc.wait(20)


class Process:
    """A server process in a session of its own (so its children can be found and killed with it)."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], log_dir: Path):
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self.log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def kill(self) -> None:
        """SIGKILL the whole process group, like a crashed pod."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(20)

    def stop(self, timeout: float = 20) -> None:
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()


class Stack:
    """PostgreSQL, Redis, gunicorn, daphne and a Celery worker in production mode, all our own."""

    GUNICORN_WORKERS = 3

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="halobuzz-faults-"))
        os.chmod(self.root, 0o755)  # noqa: S103 - the postgres user must reach its data directory inside
        self.logs = self.root / "logs"
        self.logs.mkdir()
        self._stops: list = []  # what to stop at the end, last started first
        try:
            self.pg = Postgres(self.root)
            self._stops.append(lambda: self.pg.stop("immediate"))
            self.redis = Redis(self.root)
            self._stops.append(self.redis.stop)
            self.web_port = free_port()
            self.env = self._env()
            self.manage("migrate", "-v0")
            self.manage("bootstrap_roles", "-v0")
            self.web = self._start_gunicorn()
            self._stops.append(lambda: self.web.stop())
            self.daphne = Daphne(self.env, log_path=str(self.logs / "daphne.log"))
            self._stops.append(lambda: self.daphne.stop())
            self.worker = self._start_worker()
            self._stops.append(lambda: self.worker.stop())
        except BaseException:
            self.stop()
            raise

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def _env(self) -> dict[str, str]:
        return {
            **os.environ,
            "DATABASE_URL": self.pg.url,
            "REDIS_URL": self.redis.url,
            "SECRET_KEY": "fault-suite-only-0123456789abcdef0123456789abcdef",
            "ALLOWED_HOSTS": "*",
            "SECURE_SSL_REDIRECT": "false",
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "LOG_LEVEL": "WARNING",
            "GUNICORN_ACCESS_LOG": "false",
            "WEB_CONCURRENCY": str(self.GUNICORN_WORKERS),
            "SITE_URL": f"http://127.0.0.1:{self.web_port}",
            "PAYMENTS_SANDBOX_ENABLED": "true",
            "PAYMENT_GATEWAY_TIMEOUT": "5",
            "PAYMENT_VERIFY_BACKOFF_SECONDS": "1",
            "JWT_ACCESS_MINUTES": "120",
            "THROTTLE_USER": "1000000/min",
            "THROTTLE_LOGIN": "1000/min",
            "ADMIN_LOGIN_RATE": "1000",
            "CASHOUT_MIN_COINS": "10",
            "GAMES_DAILY_LOSS_LIMIT": "100000000",
            "LIVE_VIEWERS_BROADCAST_SECONDS": "0.5",
            # Nothing here uploads media: files on disk, no object store to start.
            "MEDIA_STORAGE": "filesystem",
            "MEDIA_ROOT": str(self.root / "media"),
            "PRIVATE_MEDIA_ROOT": str(self.root / "private-media"),
        }

    def manage(self, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            check=check,
            timeout=timeout,
        )

    def world(self, command: str, payload: dict | None = None) -> dict:
        """Run `python -m tests.faults.world <command>` in the stack (Django on our own database):
        JSON in on stdin, JSON out on stdout."""
        done = subprocess.run(
            [sys.executable, "-m", "tests.faults.world", command],
            cwd=REPO,
            env=self.env,
            input=json.dumps(payload or {}),
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode:
            raise RuntimeError(f"world {command} failed:\n{done.stderr[-4000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])

    # --- gunicorn ------------------------------------------------------------------------------

    def _start_gunicorn(self) -> Process:
        web = Process(
            "gunicorn",
            [str(BIN / "gunicorn"), "--config", "deploy/gunicorn.conf.py", "--bind", f"127.0.0.1:{self.web_port}"]
            + ["halobuzz.wsgi:application"],
            self.env,
            self.logs,
        )
        try:
            wait_until(
                lambda: len(children(web.pid)) == self.GUNICORN_WORKERS
                and requests.get(f"{self.base}/healthz", timeout=5).status_code == 200,
                timeout=90,
                what="gunicorn",
            )
        except RuntimeError:
            web.kill()
            raise RuntimeError(f"gunicorn did not start:\n{web.tail()}") from None
        return web

    def web_workers(self) -> list[int]:
        return children(self.web.pid)

    # --- daphne --------------------------------------------------------------------------------

    def daphne_restart(self) -> None:
        """Start daphne again on the same port (after `self.daphne.kill()`)."""
        self.daphne = Daphne(self.env, port=self.daphne.port, log_path=str(self.logs / "daphne-again.log"))

    # --- Celery --------------------------------------------------------------------------------

    def _start_worker(self) -> Process:
        log = self.logs / "celery-worker.log"
        ready_before = _ready_lines(log)
        worker = Process(
            "celery-worker",
            [str(BIN / "celery"), "-A", "halobuzz", "worker", "-Q", "celery", "--pool=prefork", "--concurrency=2"]
            + ["--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel=INFO"]
            + [f"--hostname=faults-{self.web_port}@%h"],
            self.env,
            self.logs,
        )
        try:
            wait_until(lambda: _ready_lines(log) > ready_before, timeout=120, what="the Celery worker")
        except RuntimeError:
            worker.kill()
            raise RuntimeError(f"the Celery worker did not start:\n{worker.tail()}") from None
        return worker

    def worker_restart(self) -> None:
        """Start a new worker after `self.worker.kill()`."""
        self.worker.log.close()
        self.worker = self._start_worker()

    def broker_unacked_restore(self) -> int:
        """Put back every message a worker fetched and never acknowledged, as the Redis transport does
        once the visibility timeout has passed (an hour by default; forced here). Returns how many."""
        held = self.redis.client().zcard("unacked_index")
        with Connection(self.redis.url, transport_options={"visibility_timeout": 0}) as connection:
            connection.default_channel.qos.restore_visible(num=1000)
        return held

    def broker_idle(self) -> bool:
        """Nothing queued and nothing held by a worker."""
        client = self.redis.client()
        return client.llen("celery") == 0 and client.zcard("unacked_index") == 0

    def worker_children(self) -> list[int]:
        return children(self.worker.pid)

    # --- the end -------------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop everything that was started (whatever state a fault left it in) and delete the directory."""
        for stop in reversed(self._stops):
            try:
                stop()
            except Exception:  # noqa: BLE001, S110 - already down: the next one must still be stopped
                pass
        shutil.rmtree(self.root, ignore_errors=True)
