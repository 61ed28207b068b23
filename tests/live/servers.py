"""Start real daphne processes for room tests, the browser test and the room benchmark."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DAPHNE = str(Path(sys.executable).with_name("daphne"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Daphne:
    """One daphne process on a free port; `stop()` (or the context manager) ends it."""

    def __init__(self, env: dict[str, str], port: int | None = None, log_path: str | None = None):
        self.port = port or free_port()
        self.env = {**os.environ, **env}
        self.log = open(log_path or os.devnull, "wb")  # noqa: SIM115
        for attempt in range(3):
            self.proc = subprocess.Popen(
                [DAPHNE, "-b", "127.0.0.1", "-p", str(self.port), "halobuzz.asgi:application"],
                cwd=REPO,
                env=self.env,
                stdout=self.log,
                stderr=subprocess.STDOUT,
            )
            try:
                self.wait_ready()
                return
            except RuntimeError:
                # The shared checkout's collectstatic may be rewriting staticfiles/ under whitenoise's scan.
                if attempt == 2:
                    self.stop()
                    raise
                time.sleep(2)

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"daphne exited with {self.proc.returncode}")
            try:
                with urllib.request.urlopen(f"{self.http}/healthz", timeout=1) as resp:  # noqa: S310 (http to our daphne)
                    if resp.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        self.proc.kill()
        self.proc.wait(10)
        raise RuntimeError("daphne did not become ready")

    def kill(self) -> None:
        """Die without cleaning up, like a crashed pod."""
        self.proc.kill()
        self.proc.wait(10)
        self.log.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()

    def rss_kib(self) -> int:
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def __enter__(self) -> "Daphne":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
