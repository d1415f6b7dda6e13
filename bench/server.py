"""Server subprocesses: start on a free loopback port, wait for health, read memory, stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from bench.proc import cpu_seconds, memory_kib

HOST = "127.0.0.1"
REPO = Path(__file__).resolve().parents[1]
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0


def free_port() -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


class ServerProcess:
    """One server (``python main.py`` or the floors app) on ``HOST`` and a free port.

    Its output goes to ``log_path``, so a crash can be diagnosed after the run.
    """

    def __init__(
        self, name: str, argv: Sequence[str], env: Mapping[str, str], log_path: Path
    ) -> None:
        self.name = name
        self.port = free_port()
        self.argv = [sys.executable, *argv]
        self.env = {**env, "HOST": HOST, "PORT": str(self.port)}
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None, f"{self.name} not started"
        return self.process.pid

    def start(self, timeout: float = START_TIMEOUT) -> float:
        """Spawn the process, wait until ``GET /healthz`` answers 200, and return
        the seconds from the spawn to that answer. A restart appends to the log
        of the earlier runs.
        """
        self.starts += 1
        spawned = time.monotonic()
        with self.log_path.open("ab" if self.starts > 1 else "wb") as log:
            if self.starts > 1:
                log.write(f"\n--- start {self.starts} ---\n".encode())
                log.flush()
            self.process = subprocess.Popen(
                self.argv, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = spawned + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start-up; see {self.log_path}")
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=1.0).status_code == 200:
                    return time.monotonic() - spawned
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} not healthy after {timeout:.0f}s; see {self.log_path}")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def memory(self) -> dict[str, int]:
        return memory_kib(self.pid) if self.alive() else {}

    def cpu(self) -> float:
        """CPU seconds used so far; differences give the server's cost of a phase."""
        return cpu_seconds(self.pid) if self.alive() else 0.0

    def stop(self, timeout: float = STOP_TIMEOUT) -> bool:
        """SIGTERM, then SIGKILL if it has not exited within ``timeout``.

        True when it exited on SIGTERM in time (a clean stop), or was not running.
        """
        if self.process is None or self.process.poll() is not None:
            return True
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT)
            return False
        return True

    def restart(
        self, stop_timeout: float = STOP_TIMEOUT, start_timeout: float = START_TIMEOUT
    ) -> dict[str, Any]:
        """Stop cleanly, start again (same port, same environment, so same data).

        Returns the stop's duration, whether it was clean and its exit code, the
        start's duration (spawn to healthy) and the memory right after it.
        """
        started = time.monotonic()
        clean = self.stop(stop_timeout)
        stopped_s = time.monotonic() - started
        code = self.process.returncode if self.process is not None else None
        return {
            "stop_s": stopped_s,
            "stop_clean": clean,
            "exit_code": code,
            "start_s": self.start(start_timeout),
            "memory_kib": self.memory(),
        }

    def __enter__(self) -> ServerProcess:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()


def api_env(data_dir: Path, jwt_secret: str) -> dict[str, str]:
    """The environment of the real server: embedded store in ``data_dir``."""
    env = {k: v for k, v in os.environ.items() if k not in ("MONGODB_URL", "PYTHONPATH")}
    # The load measures the tracking path and the views, not the per-tenant limit nor
    # the query budget (0 = none); no warm-up after a restart: it would compete with
    # the next import and the load for the second core, and each view's first run is
    # reported as the cold figure.
    return {
        **env,
        "DATA_DIR": str(data_dir),
        "JWT_SECRET": jwt_secret,
        "TENANT_RATE_LIMIT_PER_MINUTE": "0",
        "QUERY_BUDGET_POINTS": "0",
        "WARM_UP_VIEWS": "false",
    }


def admin_token(env: Mapping[str, str]) -> str:
    """``python main.py token --email bench@example.com --admin --tenant '*'``: last line."""
    argv = [sys.executable, "main.py", "token", "--email", "bench@example.com"]
    argv += ["--admin", "--tenant", "*"]
    done = subprocess.run(
        argv, cwd=REPO, env=dict(env), capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout.strip().splitlines()[-1]
