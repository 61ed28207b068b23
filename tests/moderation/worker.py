"""A real `celery -A halobuzz worker` process against the test database and Redis (tests and benchmark)."""

import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from django.db import connection

REPO = Path(__file__).resolve().parents[2]
CELERY = str(Path(sys.executable).with_name("celery"))


def worker_env(media_root: str) -> dict[str, str]:
    """Production mode on the test database (its name is known only once pytest-django made it).

    Database connections are kept between tasks as in production (DB_CONN_MAX_AGE 60): reconnecting
    for every task cost a few ms each, and a burst of uploads is mostly tasks that find nothing to do.
    """
    url = urlsplit(os.environ["DATABASE_URL"])
    return {
        **os.environ,
        "DATABASE_URL": urlunsplit(url._replace(path=f"/{connection.settings_dict['NAME']}")),
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "MEDIA_ROOT": media_root,
        "LOG_LEVEL": "INFO",
    }


class CeleryWorker:
    """One worker process (prefork, one child) that has loaded and warmed the NSFW model.

    It consumes only the `moderation` queue, as the deployed moderation worker does: a frame task
    routed anywhere else would never be scored and the tests would fail.
    """

    def __init__(
        self,
        *,
        media_root: str,
        log_path: str,
        concurrency: int = 1,
        queues: str = "moderation",
        ready_timeout: float = 300,
    ):
        self.log_path = log_path
        self.log = open(log_path, "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                CELERY,
                "-A",
                "halobuzz",
                "worker",
                "--pool=prefork",
                f"--concurrency={concurrency}",
                f"--queues={queues}",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel=INFO",
            ],
            cwd=REPO,
            env=worker_env(media_root),
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self._wait_warm(concurrency, ready_timeout)

    def _wait_warm(self, children: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"celery worker exited with {self.proc.returncode}: {self.tail()}")
            text = Path(self.log_path).read_text(errors="replace")
            if text.count("nsfw model warm") >= children and "ready." in text:
                return
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"celery worker did not warm up in {timeout} s: {self.tail()}")

    def tail(self, lines: int = 30) -> str:
        return "\n".join(Path(self.log_path).read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()  # warm shutdown: the child finishes its task
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()
