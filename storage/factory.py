"""The client factory: the Database the settings ask for, indexes ensured."""

from __future__ import annotations

from core.settings import Settings
from storage.database import Database, MongoDatabase
from storage.embedded import EmbeddedDatabase
from storage.indexes import event_indexes, rate_limit_indexes


async def open_database(settings: Settings) -> Database:
    """Connect (or load the embedded store) and make sure the indexes exist."""
    database: Database
    if settings.mongodb_url is None:
        database = await EmbeddedDatabase.open(
            settings.data_dir,
            fsync_seconds=settings.embedded_fsync_seconds,
            retention_days=settings.event_retention_days,
            query_workers=settings.embedded_query_workers,
        )
    else:
        database = MongoDatabase.connect(settings.mongodb_url, settings.mongodb_database)
        database.retention_days = settings.event_retention_days
    await database.ensure_indexes(event_indexes(retention_days=settings.event_retention_days))
    await database.ensure_indexes(rate_limit_indexes())
    return database
