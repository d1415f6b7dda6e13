"""Idle and slow connections: the body deadline, the connection protocol, the socket cap.

The middleware and the guard are tested in process; the deadlines and the cap
through the real server (``tests/live_server.py``) over raw loopback sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
import selectors
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import Message, Receive, Scope, Send

from app.connections import (
    MAX_HEAD_BYTES,
    ConnectionGuard,
    connection_budget,
    raise_open_file_limit,
)
from app.timeouts import BodyTimeout
from core.errors import ConfigError
from tests.conftest import FREE
from tests.live_server import ROOT, Server

TRACK = "mutation($input: TrackEventInput!) { trackEvent(input: $input) { status } }"
GRACE = 5.0  # seconds past a documented bound before a test gives up waiting


# ---- the body deadline, in process -------------------------------------------


async def echo_length(scope: Scope, receive: Receive, send: Send) -> None:
    body = await Request(scope, receive).body()
    await JSONResponse({"bytes": len(body)})(scope, receive, send)


class FakeConnection:
    """ASGI receive/send for one request whose body arrives as ``chunks``; ``then`` says
    what follows them: the body's end, the client hanging up, or nothing ever."""

    def __init__(self, *chunks: bytes, then: str = "stall") -> None:
        self.chunks = list(chunks)
        self.then = then
        self.sent: list[Message] = []

    async def receive(self) -> Message:
        if self.chunks:
            chunk = self.chunks.pop(0)
            last = not self.chunks and self.then == "end"
            return {"type": "http.request", "body": chunk, "more_body": not last}
        if self.then == "disconnect":
            return {"type": "http.disconnect"}
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def send(self, message: Message) -> None:
        self.sent.append(message)

    def response(self) -> tuple[int, dict[str, str], Any]:
        start, body = self.sent
        headers = {k.decode(): v.decode() for k, v in start["headers"]}
        return start["status"], headers, json.loads(body["body"])


SCOPE: Scope = {"type": "http", "method": "POST", "path": "/graphql", "headers": []}


async def test_a_stalled_body_is_answered_408_and_the_connection_closed() -> None:
    connection = FakeConnection(b'{"query": "{ __typ')
    await BodyTimeout(echo_length, seconds=0.05)(SCOPE, connection.receive, connection.send)
    status, headers, body = connection.response()
    assert (status, headers["connection"], headers["content-type"]) == (
        408,
        "close",
        "application/json",
    )
    assert body == {
        "errors": [
            {
                "message": "the request body did not arrive within 0.05 s",
                "extensions": {"code": "REQUEST_TIMEOUT"},
            }
        ]
    }


async def test_a_body_in_time_passes_through() -> None:
    connection = FakeConnection(b"abc", b"defg", then="end")
    await BodyTimeout(echo_length, seconds=5)(SCOPE, connection.receive, connection.send)
    assert connection.response()[::2] == (200, {"bytes": 7})


async def test_waiting_for_disconnect_after_the_body_is_not_cut() -> None:
    async def reads_then_listens(scope: Scope, receive: Receive, send: Send) -> None:
        assert (await receive())["more_body"] is False
        message = await receive()  # a streaming app listening for the client to leave
        await JSONResponse({"next": message["type"]})(scope, receive, send)

    connection = FakeConnection(b"{}", then="end")
    later = [{"type": "http.disconnect"}]

    async def receive() -> Message:
        if connection.chunks:
            return await connection.receive()
        await asyncio.sleep(0.1)  # longer than the deadline below
        return later.pop()

    await BodyTimeout(reads_then_listens, seconds=0.02)(SCOPE, receive, connection.send)
    assert connection.response()[::2] == (200, {"next": "http.disconnect"})


async def test_a_client_gone_mid_body_ends_the_request_quietly() -> None:
    connection = FakeConnection(b'{"qu', then="disconnect")
    await BodyTimeout(echo_length, seconds=5)(SCOPE, connection.receive, connection.send)
    assert connection.sent == []


# ---- the connection cap, in process --------------------------------------------


class Conn:
    def __init__(self, name: str) -> None:
        self.name = name
        self.evicted = False

    def evict(self) -> None:
        self.evicted = True


def test_the_guard_evicts_the_longest_waiting_connection() -> None:
    guard = ConnectionGuard(limit=3)
    a, b, c, d, e = (Conn(n) for n in "abcde")
    for conn in (a, b, c):
        guard.opened(conn)
    guard.busy(a)  # a's request is complete: the server is working for it
    guard.waiting(b)  # b finished a response and waits again: now newer than c
    guard.opened(d)
    assert [x.name for x in (a, b, c, d) if x.evicted] == ["c"]
    guard.closed(c)
    guard.busy(b)
    guard.busy(d)
    guard.opened(e)  # everyone else is busy: the newcomer is the one closed
    assert (e.evicted, guard.evicted, guard.waiting_count()) == (True, 2, 0)


@pytest.mark.parametrize(
    ("open_files", "backlog", "max_connections"),
    [(20_000, 2048, 17_696), (1024, 128, 640), (65_536, 2048, 20_000)],
)
def test_connection_budget(open_files: int, backlog: int, max_connections: int) -> None:
    budget = connection_budget(open_files)
    assert (budget.backlog, budget.max_connections) == (backlog, max_connections)


def test_connection_budget_refuses_what_the_limit_cannot_hold() -> None:
    assert connection_budget(1024, 600).max_connections == 600
    assert connection_budget(65_536, 50_000).max_connections == 50_000
    with pytest.raises(ConfigError) as too_many:
        connection_budget(1024, 641)
    assert str(too_many.value) == (
        "MAX_CONNECTIONS must be at most 640 with an open-file limit of 1024, got 641"
    )
    with pytest.raises(ConfigError) as too_few:
        connection_budget(256)
    assert str(too_few.value) == (
        "the open-file limit (256) leaves no room for connections: raise ulimit -n"
    )


def test_the_open_file_limit_is_raised_to_the_hard_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, 512), hard))
        assert raise_open_file_limit() == resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] in (hard, 1 << 20)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


# ---- through the real server ---------------------------------------------------


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def read_until_closed(sock: socket.socket, deadline: float) -> bytes | None:
    """All the server sends until it closes the connection; None if still open at deadline."""
    data = b""
    while (remaining := deadline - time.monotonic()) > 0:
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            return None
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk
    return None


def split(response: bytes) -> tuple[str, dict[str, str], Any]:
    head, _, body = response.partition(b"\r\n\r\n")
    status, *lines = head.decode().split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines)
    return status, headers, json.loads(body)


def timeout_error(message: str) -> dict[str, Any]:
    return {"errors": [{"message": message, "extensions": {"code": "REQUEST_TIMEOUT"}}]}


def raw_error(status: str, body: dict[str, Any]) -> bytes:
    payload = json.dumps(body, separators=(",", ":")).encode()
    return (
        f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(payload)}\r\nconnection: close\r\n\r\n"
    ).encode() + payload


HEAD_408 = raw_error(
    "408 Request Timeout", timeout_error("the request head did not arrive within 2 s")
)
PARTIAL_BODY = (
    b"POST /graphql HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
    b"Content-Length: 100\r\n\r\n" + b'{"query": "{ __typ'
)


@pytest.fixture
def timeouts_server(tmp_path: Path) -> Iterator[Server]:
    server = Server(
        tmp_path / "data", env={"KEEP_ALIVE_SECONDS": "1", "REQUEST_TIMEOUT_SECONDS": "2"}
    )
    try:
        yield server
    finally:
        server.kill()


@pytest.mark.slow
def test_idle_and_slow_connections_are_closed(timeouts_server: Server) -> None:
    with contextlib.ExitStack() as stack:

        def connected() -> socket.socket:
            return stack.enter_context(connect(timeouts_server.port))

        idle = connected()
        served = connected()
        served.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        half_line = connected()
        half_line.sendall(b"GET /heal")
        partial_body = connected()
        partial_body.sendall(PARTIAL_BODY)
        huge_head = connected()
        huge_head.sendall(b"GET /healthz HTTP/1.1\r\nX-Pad: " + b"a" * MAX_HEAD_BYTES + b"\r\n")
        opened = time.monotonic()
        # A byte every 0.25 s for 1.5 s outlives uvicorn's keep-alive (1 s), which each
        # byte resets; the head deadline (2 s from the first byte) does not reset.
        drip = connected()
        for byte in b"GET /h":
            drip.sendall(bytes([byte]))
            time.sleep(0.25)

        assert read_until_closed(idle, opened + 1 + GRACE) == b""
        status, _, body = split(read_until_closed(served, opened + 1 + GRACE) or b"")
        assert (status, body) == ("HTTP/1.1 200 OK", {"status": "ok"})
        assert read_until_closed(half_line, opened + 2 + GRACE) == HEAD_408
        assert read_until_closed(drip, opened + 2 + 2 + GRACE) == HEAD_408
        status, headers, body = split(read_until_closed(partial_body, opened + 2 + GRACE) or b"")
        assert (status, headers["connection"], headers["content-type"]) == (
            "HTTP/1.1 408 Request Timeout",
            "close",
            "application/json",
        )
        assert body == timeout_error("the request body did not arrive within 2 s")
        assert read_until_closed(huge_head, opened + GRACE) == raw_error(
            "431 Request Header Fields Too Large",
            {
                "errors": [
                    {
                        "message": "the request line and headers exceed 65536 bytes",
                        "extensions": {"code": "HEADERS_TOO_LARGE"},
                    }
                ]
            },
        )


@pytest.mark.slow
def test_a_client_that_stops_reading_is_dropped(timeouts_server: Server) -> None:
    script = "/graphiql/static/vendor/graphiql/graphiql.min.js"
    size = (ROOT / "app/graphiql/static/vendor/graphiql/graphiql.min.js").stat().st_size
    reader = socket.socket()
    reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    reader.connect(("127.0.0.1", timeouts_server.port))
    requests = 8  # pipelined, never read: far more than the socket buffers hold
    reader.sendall(f"GET {script} HTTP/1.1\r\nHost: t\r\n\r\n".encode() * requests)
    time.sleep(2 + 1)  # the documented bound, and a second for the server to act
    received = read_until_closed(reader, time.monotonic() + GRACE)
    reader.close()
    assert received is not None and len(received) < requests * size
    with httpx.Client(base_url=timeouts_server.url, timeout=10) as client:
        assert client.get("/healthz").json() == {"status": "ok"}


@pytest.mark.slow
def test_past_max_connections_the_oldest_waiting_one_is_closed(tmp_path: Path) -> None:
    env = {"MAX_CONNECTIONS": "50", "KEEP_ALIVE_SECONDS": "600", "REQUEST_TIMEOUT_SECONDS": "600"}
    server = Server(tmp_path / "data", env=env)
    sockets = [connect(server.port) for _ in range(60)]
    try:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            assert client.get("/healthz").json() == {"status": "ok"}
        # 60 idle + the health check's = 61 past a cap of 50: the 11 oldest are closed.
        closed = closed_sockets(sockets, expected=11, deadline=time.monotonic() + GRACE)
        assert closed == list(range(11))
    finally:
        for sock in sockets:
            sock.close()
        server.kill()


def closed_sockets(sockets: list[socket.socket], *, expected: int, deadline: float) -> list[int]:
    """Indexes of the sockets the server closed (readable at EOF), once ``expected`` are."""
    with selectors.DefaultSelector() as selector:
        for index, sock in enumerate(sockets):
            selector.register(sock, selectors.EVENT_READ, index)
        closed: set[int] = set()
        while len(closed) < expected and time.monotonic() < deadline:
            for key, _ in selector.select(timeout=0.2):
                closed.add(key.data)
                selector.unregister(key.fileobj)
        return sorted(closed)


# ---- 20,000 idle sockets -------------------------------------------------------

IDLE_TOTAL = 20_000
SLOW = 200  # of which: half a request line, and headers with part of a body


def open_files_for(count: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < count + 200 <= hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def hold_idle(port: int, count: int) -> None:
    """Helper process: hold ``count`` idle connections; on each stdin line, print how
    many the server has closed; exit when stdin closes (or after two minutes)."""
    import signal

    signal.alarm(120)
    open_files_for(count)
    sockets = [connect(port) for _ in range(count)]
    print(len(sockets), flush=True)
    with selectors.DefaultSelector() as selector:
        for sock in sockets:
            selector.register(sock, selectors.EVENT_READ)
        closed = 0
        for _ in sys.stdin:
            for key, _ in selector.select(timeout=0):
                selector.unregister(key.fileobj)
                closed += 1
            print(closed, flush=True)


@pytest.mark.slow
def test_twenty_thousand_idle_sockets_do_not_starve_real_requests(tmp_path: Path) -> None:
    # Each process may hold only RLIMIT_NOFILE sockets (20,000 here, hard): half the
    # idle ones live in a helper process, so 20,000 is reached within anyone's limits.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    held_here = IDLE_TOTAL // 2
    if hard < held_here + 500:
        pytest.skip(f"RLIMIT_NOFILE hard limit {hard} cannot hold {held_here} sockets")
    open_files_for(held_here)
    # Idle sockets are kept (keep-alive 10 min): only the cap protects the server.
    server = Server(
        tmp_path / "data", env={"KEEP_ALIVE_SECONDS": "600", "REQUEST_TIMEOUT_SECONDS": "3"}
    )
    cap = connection_budget(hard).max_connections
    helper = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from tests.test_app_sockets import hold_idle; "
            f"hold_idle({server.port}, {IDLE_TOTAL - held_here})",
        ],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    mine: list[socket.socket] = []
    try:
        assert helper.stdout is not None and helper.stdin is not None
        assert helper.stdout.readline() == f"{IDLE_TOTAL - held_here}\n"
        mine.extend(connect(server.port) for _ in range(held_here))
        idle, half_lines, partial_bodies = (
            mine[:-SLOW],
            mine[-SLOW : -SLOW // 2],
            mine[-SLOW // 2 :],
        )
        for sock in half_lines:
            sock.sendall(b"POST /graphql HT")
        for sock in partial_bodies:
            sock.sendall(PARTIAL_BODY)
        slow_opened = time.monotonic()

        with httpx.Client(base_url=server.url, timeout=10) as client:
            assert client.get("/healthz").json() == {"status": "ok"}
            tracked = client.post(
                "/graphql",
                json={"query": TRACK, "variables": {"input": {"eventType": "page_view"}}},
            )
            assert tracked.json() == {"data": {"trackEvent": {"status": "OK"}}, "extensions": FREE}

        head_408 = raw_error(
            "408 Request Timeout", timeout_error("the request head did not arrive within 3 s")
        )
        for sock in half_lines:
            assert read_until_closed(sock, slow_opened + 3 + GRACE) == head_408
        for sock in partial_bodies:
            status, headers, body = split(read_until_closed(sock, slow_opened + 3 + GRACE) or b"")
            assert (status, headers["connection"]) == ("HTTP/1.1 408 Request Timeout", "close")
            assert body == timeout_error("the request body did not arrive within 3 s")

        # The oldest idle sockets (the helper's) made room; the newer ones are still held.
        helper.stdin.write("count\n")
        helper.stdin.flush()
        evicted = int(helper.stdout.readline())
        assert IDLE_TOTAL + 1 - SLOW - cap <= evicted <= IDLE_TOTAL + 1 - cap
        assert closed_sockets(idle, expected=1, deadline=time.monotonic() + 0.5) == []
    finally:
        for sock in mine:
            sock.close()
        if helper.stdin is not None:
            helper.stdin.close()
        helper.wait(timeout=30)
        if helper.stdout is not None:
            helper.stdout.close()
        server.kill()
