"""Run a CPU-bound read in a forked child, so the event loop keeps serving.

The embedded store answers admin views by running pipelines in Python. On the
event loop, a view over a year of a busy shop would hold every tenant's
tracking for seconds; a thread would not help (the GIL). Instead, as Redis
does for its snapshots, the process forks: the child sees the store exactly as
it was at the fork (copy-on-write, no copying up front, no locking against
later writes), computes, sends the pickled answer back through a pipe and
exits. The parent only waits on the pipe.

* At most ``workers`` children run at once (one per spare core): a child that
  competed for the loop's core would slow tracking as much as running inline.
  Children run at a lower priority (``nice``) than the server.
* A child's exception (e.g. mongomock's ``OperationFailure``) is raised in the
  parent as it was raised; a child that dies without an answer raises
  ``OffloadFailed``.
* Cancelling the awaiting task (the client went away, a timeout) kills the
  child at once: no orphan keeps computing.
* The child never returns into the server's code: whatever happens it ends with
  ``os._exit``, so it cannot run the loop, flush shared files or answer a socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import pickle
import signal
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

CHILD_NICENESS = 10
_READ_CHUNK = 1 << 20


class OffloadFailed(RuntimeError):
    """The child ended without an answer (killed, out of memory, unpicklable result)."""


class Offloader:
    """Forks a child per call, at most ``workers`` at a time."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._slots = asyncio.Semaphore(workers)
        self.forks = 0  # how many children ran (tests and the bench read it)

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        async with self._slots:
            return await self._run(function, args)

    async def _run(self, function: Callable[..., T], args: tuple[Any, ...]) -> T:
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child
            os.close(read_end)
            _child(write_end, function, args)  # never returns
        os.close(write_end)
        self.forks += 1
        try:
            payload = await _read_all(read_end)
        except BaseException:
            _kill(pid)
            raise
        finally:
            os.close(read_end)
        # EOF came with the child's exit: reaping it is immediate, but not on the loop.
        _, status = await asyncio.to_thread(os.waitpid, pid, 0)
        if not payload:
            raise OffloadFailed(f"pipeline worker {pid} ended without an answer (status {status})")
        try:
            ok, value = pickle.loads(payload)
        except Exception as error:
            raise OffloadFailed(f"pipeline worker {pid} sent an unreadable answer") from error
        if ok:
            result: T = value
            return result
        raise value


def _child(write_end: int, function: Callable[..., Any], args: tuple[Any, ...]) -> None:
    code = 1
    try:
        # Nothing shared with the parent may run here: not its signal handlers,
        # not a collection that would touch (and so copy) every page of the heap.
        gc.disable()
        for number in (signal.SIGINT, signal.SIGTERM):
            signal.signal(number, signal.SIG_DFL)
        with contextlib.suppress(ValueError):  # only the main thread may
            signal.set_wakeup_fd(-1)
        os.nice(CHILD_NICENESS)
        try:
            answer: tuple[bool, Any] = (True, function(*args))
        except Exception as error:  # the parent raises it
            answer = (False, error)
        try:
            payload = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as error:
            payload = pickle.dumps((False, OffloadFailed(f"answer could not be sent: {error!r}")))
        view = memoryview(payload)
        while view:
            view = view[os.write(write_end, view) :]
        code = 0
    finally:
        os._exit(code)


async def _read_all(fd: int) -> bytes:
    """Everything written to the pipe ``fd`` until its writer closes it."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    chunks: list[bytes] = []

    def readable() -> None:
        try:
            chunk = os.read(fd, _READ_CHUNK)
        except BlockingIOError:
            return
        except OSError as error:
            loop.remove_reader(fd)
            if not done.done():
                done.set_exception(error)
            return
        if chunk:
            chunks.append(chunk)
            return
        loop.remove_reader(fd)
        if not done.done():
            done.set_result(None)

    os.set_blocking(fd, False)
    loop.add_reader(fd, readable)
    try:
        await done
    finally:
        loop.remove_reader(fd)
    return b"".join(chunks)


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)  # SIGKILL cannot be caught: the child is gone at once
