"""dashboardStats: the week's KPIs (METRICS.md, dashboardStats). Interface; being built."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from core.vocabulary import CountMode
from storage.database import Database
from storage.windows import DayWindow, dashboard_window


class DashboardReport:
    """Lazy KPIs of one request: each method awaits only the pass it needs, once."""

    def __init__(
        self, database: Database, *, tenant: str, mode: CountMode, zone: ZoneInfo, now: datetime
    ) -> None:
        self.database = database
        self.tenant = tenant
        self.mode = mode
        self.zone = zone
        self.now = now
        self.window: DayWindow = dashboard_window(now, zone)
