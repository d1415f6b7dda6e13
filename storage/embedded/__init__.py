"""The embedded engine: mongomock-motor made durable (journal and snapshot) and fast (its
own indexes, a hash ``$group``, compiled expressions)."""

from storage.embedded.store import EmbeddedDatabase

__all__ = ["EmbeddedDatabase"]
