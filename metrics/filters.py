"""Conditions shared by every metric's first ``$match``.

Bot traffic (docs/metrics.md, "Context, visitors, bots") is stored with ``bot: true``
and counted by no metric; people's events carry no ``bot`` field at all (nothing to
store for the common case), which ``$ne: true`` matches on MongoDB and mongomock alike.
"""

from __future__ import annotations

from storage.documents import PEOPLE

__all__ = ["PEOPLE"]
