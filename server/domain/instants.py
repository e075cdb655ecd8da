"""Instants: every datetime the service stores or compares is an aware UTC datetime.

Times arrive with any offset ("2026-03-01T00:30:00+08:00"); they are converted to UTC once,
where they enter (request schemas, event parsing), and the storage layer refuses anything
else (server/models/fields.py): MariaDB's DATETIME would drop the offset and SQLite would
compare the text, so an instant in another offset would be read 8 hours off.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

_ZERO = timedelta(0)


class NotAnInstant(TypeError):
    """A naive datetime, or one in another offset than UTC, where an instant must be UTC."""


def is_utc(moment: datetime) -> bool:
    return moment.utcoffset() == _ZERO


def require_utc(moment: datetime, *, what: str = "datetime") -> datetime:
    """`moment` itself when it is an aware UTC datetime, else NotAnInstant."""
    if moment.utcoffset() is None:
        raise NotAnInstant(f"{what} {moment.isoformat()} is naive: convert it to UTC first")
    if moment.utcoffset() != _ZERO:
        raise NotAnInstant(f"{what} {moment.isoformat()} is not in UTC: convert it first")
    return moment


def utc(moment: datetime) -> datetime:
    """The same instant in UTC; ValueError for a naive datetime (it names no instant)."""
    if moment.utcoffset() is None:
        raise ValueError(f"{moment.isoformat()} has no time zone")
    return moment.astimezone(UTC)


def utc_assumed(moment: datetime) -> datetime:
    """`moment` in UTC, a naive one read as UTC (query filters documented that way)."""
    return moment.replace(tzinfo=UTC) if moment.utcoffset() is None else moment.astimezone(UTC)


def stored_instant(value: Any) -> datetime | None:
    """A datetime column read through raw SQL, as an aware UTC datetime: MySQL gives naive
    UTC datetimes, SQLite the stored text."""
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return utc_assumed(moment)
