"""The HTTP/1.1 connection protocol: uvicorn's, with the deadlines and the cap it lacks.

uvicorn (0.54, httptools) closes a connection idle after a response
(``timeout_keep_alive``), but a fresh connection that sends nothing, a request
head dripped one byte at a time, an endless head, and a client that stops
reading its response are never closed; and its only cap, ``limit_concurrency``,
counts idle sockets too and answers 503 to everyone once they fill it. So:

* keep-alive: a connection with no request under way is closed after
  KEEP_ALIVE_SECONDS without a byte, a fresh one too;
* head: from a request's first byte, its line and headers must be in within
  REQUEST_TIMEOUT_SECONDS (else 408, JSON, and close) and fit in
  ``MAX_HEAD_BYTES`` (else 431); the body's deadline is ``app.timeouts``;
* stalled reader: a response the client stops reading for
  REQUEST_TIMEOUT_SECONDS is dropped;
* cap: past ``max_connections`` open sockets, the connection that has waited
  longest on its client (for a head or a body) is closed, never one whose request
  is complete, so idle sockets cannot starve a client that sends a request.

The cap is MAX_CONNECTIONS, by default 20,000 or what the open-file limit
leaves room for (``connection_budget``); the server raises its soft limit to
the hard limit at start-up.
"""

from __future__ import annotations

import asyncio
import resource
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.timeouts import error_json, seconds_text
from core.errors import ConfigError

MAX_HEAD_BYTES = 64 * 1024
HEADERS_TOO_LARGE_CODE = "HEADERS_TOO_LARGE"
MAX_BACKLOG = 2048
# ~7 KB of memory each when idle (uvicorn 0.54 on uvloop): 20,000 is ~135 MiB.
DEFAULT_MAX_CONNECTIONS = 20_000
# Files the process needs besides client sockets: the listener, the store's
# journal, snapshot and lock, the event loop, stdio, a MongoDB pool (100 sockets).
FD_RESERVE = 256


@dataclass(frozen=True, slots=True)
class ConnectionBudget:
    """How many sockets the server may hold, from its open-file limit."""

    open_files: int
    # A burst of accepts happens before any eviction runs: the backlog is
    # kept out of the cap so those never meet EMFILE (which drops connections).
    backlog: int
    max_connections: int


def raise_open_file_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit; return the soft limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft == resource.RLIM_INFINITY or soft >= target:
        return soft if soft != resource.RLIM_INFINITY else target
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):
        return soft
    return target


def connection_budget(open_files: int, configured: int | None = None) -> ConnectionBudget:
    """The backlog and connection cap that ``open_files`` descriptors allow."""
    backlog = max(16, min(MAX_BACKLOG, open_files // 8))
    available = open_files - backlog - FD_RESERVE
    if available < 1:
        raise ConfigError(
            f"the open-file limit ({open_files}) leaves no room for connections: raise ulimit -n"
        )
    if configured is not None and configured > available:
        raise ConfigError(
            f"MAX_CONNECTIONS must be at most {available} with an open-file limit of "
            f"{open_files}, got {configured}"
        )
    return ConnectionBudget(
        open_files, backlog, configured or min(available, DEFAULT_MAX_CONNECTIONS)
    )


class Evictable(Protocol):
    def evict(self) -> None: ...


class ConnectionGuard:
    """Counts open connections and, past ``limit``, closes the longest-waiting one."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open = 0
        self.evicted = 0
        # Connections waiting on their client, in the order they started waiting.
        self._waiting: dict[Evictable, None] = {}

    def opened(self, connection: Evictable) -> None:
        self.open += 1
        self.waiting(connection)
        if self.open > self.limit:
            # The newest is last: it goes only when no other is waiting.
            oldest = next(iter(self._waiting))
            del self._waiting[oldest]
            self.evicted += 1
            oldest.evict()

    def waiting(self, connection: Evictable) -> None:
        self._waiting.pop(connection, None)
        self._waiting[connection] = None

    def busy(self, connection: Evictable) -> None:
        self._waiting.pop(connection, None)

    def closed(self, connection: Evictable) -> None:
        self.open -= 1
        self._waiting.pop(connection, None)

    def waiting_count(self) -> int:
        return len(self._waiting)


def _error_response(status: bytes, body: bytes) -> bytes:
    """A whole response, written by the protocol itself: no request reached the app."""
    return b"".join(
        [
            b"HTTP/1.1 " + status + b"\r\n",
            b"content-type: application/json\r\n",
            b"content-length: " + str(len(body)).encode() + b"\r\n",
            b"connection: close\r\n\r\n",
            body,
        ]
    )


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the deadlines and cap of this module."""

    guard: ClassVar[ConnectionGuard]
    request_timeout: ClassVar[float]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None
        self._stall_timer: asyncio.TimerHandle | None = None
        self._in_head = False
        self._head_bytes = 0
        self._counted = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # uvicorn arms keep-alive only after a response; a fresh socket idles no longer.
        self.timeout_keep_alive_task = self.loop.call_later(
            self.timeout_keep_alive, self.timeout_keep_alive_handler
        )
        self._counted = True
        self.guard.opened(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        self._cancel_stall_timer()
        if self._counted:
            self._counted = False
            self.guard.closed(self)
        super().connection_lost(exc)

    def handle_websocket_upgrade(self) -> None:
        # From here the socket is the WebSocket protocol's (app.graphql_ws): uvicorn never
        # calls this protocol's connection_lost, so it leaves the deadlines and the cap
        # now, lest it be counted for ever (or evicted as a waiting HTTP client).
        self._in_head = False
        self._cancel_head_timer()
        self._cancel_stall_timer()
        if self.timeout_keep_alive_task is not None:
            self.timeout_keep_alive_task.cancel()
            self.timeout_keep_alive_task = None
        if self._counted:
            self._counted = False
            self.guard.closed(self)
        super().handle_websocket_upgrade()

    def evict(self) -> None:
        if not self.transport.is_closing():
            self.transport.abort()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._in_head and not self.transport.is_closing():
            # Counted per chunk: the bound is MAX_HEAD_BYTES plus one read.
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                message = f"the request line and headers exceed {MAX_HEAD_BYTES} bytes"
                self._refuse(
                    b"431 Request Header Fields Too Large",
                    error_json(message, HEADERS_TOO_LARGE_CODE),
                )

    # Parser callbacks: the head runs from the first byte to the blank line.

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._head_bytes = 0
        self._cancel_head_timer()
        self._head_timer = self.loop.call_later(self.request_timeout, self._head_timed_out)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._cancel_head_timer()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        # No cycle: a WebSocket upgrade (uvicorn makes none for it).
        if self.cycle is not None and not self.cycle.response_complete:
            self.guard.busy(self)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and (self.cycle is None or self.cycle.response_complete):
            self.guard.waiting(self)

    def pause_writing(self) -> None:
        super().pause_writing()
        if self._stall_timer is None:
            self._stall_timer = self.loop.call_later(self.request_timeout, self.evict)

    def resume_writing(self) -> None:
        super().resume_writing()
        self._cancel_stall_timer()

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._in_head and not self.transport.is_closing():
            seconds = seconds_text(self.request_timeout)
            message = f"the request head did not arrive within {seconds}"
            self._refuse(b"408 Request Timeout", error_json(message))

    def _refuse(self, status: bytes, body: bytes) -> None:
        self._in_head = False
        self._cancel_head_timer()
        self.transport.write(_error_response(status, body))
        self.transport.close()

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _cancel_stall_timer(self) -> None:
        if self._stall_timer is not None:
            self._stall_timer.cancel()
            self._stall_timer = None


def guarded_protocol(*, max_connections: int, request_timeout: float) -> type[GuardedHttpProtocol]:
    """A protocol class for one server: its own guard, shared by its connections."""

    class ServerProtocol(GuardedHttpProtocol):
        guard = ConnectionGuard(max_connections)

    ServerProtocol.request_timeout = request_timeout
    return ServerProtocol
