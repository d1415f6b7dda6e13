"""The embedded store's tenant settings: a small file, ``DATA_DIR/tenants.snapshot``.

Tenants are few and change rarely, so the whole set is rewritten on every change,
with the snapshot's machinery (checksummed frames, temp file 0600, fsync, rename):
a crash leaves either the old set or the new one. A damaged file stops start-up
(ConfigError naming it) rather than silently forgetting tenants' settings.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from core.errors import ConfigError
from storage.documents import TenantDocument
from storage.embedded.journal import SNAPSHOT_MAGIC, scan, write_snapshot

TENANTS_FILE = "tenants.snapshot"


class TenantFile:
    def __init__(self, data_dir: Path) -> None:
        self._path = data_dir / TENANTS_FILE
        found = scan(self._path, SNAPSHOT_MAGIC, tail_may_tear=False)
        if found.damaged:
            raise ConfigError(
                f"{self._path.resolve()} is damaged ({found.skipped_bytes} bytes unreadable): "
                "restore it from a backup or remove it to reset every tenant's settings"
            )
        self._tenants: dict[str, TenantDocument] = {
            str(record["_id"]): TenantDocument(**record)  # type: ignore[typeddict-item]
            for _, record in found.records
        }
        self._lock = asyncio.Lock()

    def get(self, tenant_id: str) -> TenantDocument | None:
        return self._tenants.get(tenant_id)

    def all(self) -> list[TenantDocument]:
        return [self._tenants[key] for key in sorted(self._tenants)]

    async def put(self, doc: TenantDocument) -> None:
        async with self._lock:
            updated = {**self._tenants, doc["_id"]: doc}
            records = [dict(updated[key]) for key in sorted(updated)]
            await asyncio.to_thread(write_snapshot, self._path, records)
            self._tenants = updated
