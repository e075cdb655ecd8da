"""The time window a fraud scan reads, and reading raw DATETIME values back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from server.domain.fraud.thresholds import FraudThresholds


@dataclass(frozen=True, kw_only=True)
class ScanWindow:
    """[since, until) is scanned; [history_since, since) is the baseline before it."""

    program_id: int
    since: datetime
    until: datetime
    history_since: datetime

    def span(self) -> list[Any]:
        """(program, since, until) as query parameters."""
        return [self.program_id, self.since, self.until]


def markers(values: list[Any]) -> str:
    """One `?` per value, for an IN (...) list."""
    return ", ".join("?" for _ in values)


def window_for(program_id: int, thresholds: FraudThresholds, until: datetime) -> ScanWindow:
    until = until.astimezone(UTC)
    since = until - timedelta(hours=thresholds.scan_window_hours)
    return ScanWindow(
        program_id=program_id,
        since=since,
        until=until,
        history_since=since - timedelta(days=thresholds.history_days),
    )


def moment(raw: Any) -> datetime:
    """A DATETIME read through raw SQL (text on SQLite, naive UTC on MySQL), UTC-aware."""
    value = raw if isinstance(raw, datetime) else datetime.fromisoformat(str(raw))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
