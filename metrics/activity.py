"""Which watched tenants just got events: what wakes a live subscription up.

Ingest (``metrics.ingest``) announces every stored batch's tenants here, in
process: one dictionary lookup per tenant, nothing more for a tenant nobody
listens to. While anyone listens, one watcher task per process also follows the
store's writes from other processes (``Database.watch_tenants``: a MongoDB change
stream, or polling where there is none; the embedded store has no other writer).
A listener is an ``asyncio.Event`` set by each announcement; whoever waits on it
decides how often to act (``resolvers.live`` throttles).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import Iterable, Iterator

from storage.database import Database, PerDatabase

log = logging.getLogger(__name__)
# A failed watcher (the database unreachable) starts again after this long.
RESTART_SECONDS = 5.0


class Activity:
    """The listeners of one database's tenants (one ``Activity`` per database object)."""

    def __init__(self, database: Database) -> None:
        self._database = weakref.ref(database)
        self._listeners: dict[str, set[asyncio.Event]] = {}
        self._watcher: asyncio.Task[None] | None = None

    @property
    def listening(self) -> bool:
        """Whether anyone listens to any tenant."""
        return bool(self._listeners)

    def notify(self, tenants: Iterable[str]) -> None:
        """``tenants`` got events: wake their listeners."""
        for tenant in tenants:
            for flag in self._listeners.get(tenant, ()):
                flag.set()

    def watched(self) -> frozenset[str]:
        return frozenset(self._listeners)

    @contextlib.contextmanager
    def listen(self, tenant: str) -> Iterator[asyncio.Event]:
        """An event set whenever ``tenant`` gets events, while the block runs."""
        flag = asyncio.Event()
        self._listeners.setdefault(tenant, set()).add(flag)
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.create_task(self._watch(), name="tenant activity watcher")
        try:
            yield flag
        finally:
            flags = self._listeners.get(tenant, set())
            flags.discard(flag)
            if not flags:
                self._listeners.pop(tenant, None)
            if not self._listeners and self._watcher is not None:
                self._watcher.cancel()
                self._watcher = None

    async def _watch(self) -> None:
        while True:
            database = self._database()
            if database is None:
                return
            try:
                async for tenant in database.watch_tenants(self.watched):
                    self.notify((tenant,))
                return  # a store no other process writes
            except Exception:
                log.exception("watching other processes' events failed; retrying")
            del database
            await asyncio.sleep(RESTART_SECONDS)


# The Activity of a database (per process, and per test's database).
activity_of: PerDatabase[Activity] = PerDatabase(Activity)
