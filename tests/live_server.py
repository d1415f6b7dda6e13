"""A real server process (``python main.py``) on a free loopback port, for tests that
need the whole stack: uvicorn, sockets, start-up output, kill -9."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    """Started in the constructor, healthy when it returns; ``env`` adds variables;
    ``argv`` replaces ``python main.py`` (run in the repository's root)."""

    def __init__(
        self, data_dir: Path, env: dict[str, str] | None = None, argv: list[str] | None = None
    ) -> None:
        self.port = free_port()
        environment = {
            k: v for k, v in os.environ.items() if k not in ("MONGODB_URL", "JWT_SECRET")
        }
        environment.update(DATA_DIR=str(data_dir), PORT=str(self.port), EMBEDDED_FSYNC_SECONDS="1")
        environment.update(env or {})
        self.process = subprocess.Popen(
            argv or [sys.executable, "main.py"],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.url = f"http://127.0.0.1:{self.port}"
        self.banner: list[str] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.process.poll() is not None:
                self.kill()
                raise AssertionError(f"server exited: {self.output}")
            time.sleep(0.1)
        self.kill()
        raise AssertionError(f"server did not become healthy: {self.output}")

    def kill(self) -> None:
        """SIGKILL: what a crash does. Collects what the server printed."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        assert self.process.stdout is not None
        if not self.process.stdout.closed:  # a second kill keeps what the first collected
            self.output = self.process.stdout.read()
            self.process.stdout.close()
