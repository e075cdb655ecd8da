"""Calendar periods in a program's time zone: where a day, a week or a month begins and ends,
returned as UTC bounds (docs/design/platform.md).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo

from server.domain.errors import ValidationFailed


class Period(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    """The tzinfo of a validated IANA time zone name (see program_rules.time_zone_error)."""
    return ZoneInfo(name)


def _local_midnight(year: int, month: int, day: int, tz: tzinfo) -> datetime:
    """The first real instant of a local calendar date, in UTC."""
    return datetime(year, month, day, tzinfo=tz).astimezone(UTC)


def period_bounds(moment: datetime, period: str, tz: tzinfo) -> tuple[datetime, datetime]:
    """The [start, end) in UTC of the day, ISO week or month of `tz` containing `moment`."""
    if moment.tzinfo is None:
        raise ValueError("period_bounds needs an aware datetime")
    local = moment.astimezone(tz)
    if period == Period.DAY:
        first = local.date()
        following = first + timedelta(days=1)
    elif period == Period.WEEK:
        first = local.date() - timedelta(days=local.weekday())
        following = first + timedelta(days=7)
    elif period == Period.MONTH:
        first = local.date().replace(day=1)
        following = (first + timedelta(days=32)).replace(day=1)
    else:
        raise ValidationFailed(
            f"unknown period {period!r}",
            code="invalid_period",
            fields={"period": "must be one of " + ", ".join(p.value for p in Period)},
        )
    start = _local_midnight(first.year, first.month, first.day, tz)
    end = _local_midnight(following.year, following.month, following.day, tz)
    return start, end


def period_key(moment: datetime, period: str, tz: tzinfo) -> str:
    """The period containing `moment` by name: day:2024-05-01, week:2024-W18, month:2024-05."""
    start = period_bounds(moment, period, tz)[0].astimezone(tz)
    if period == Period.DAY:
        return f"day:{start.date().isoformat()}"
    if period == Period.WEEK:
        year, week, _ = start.date().isocalendar()
        return f"week:{year:04d}-W{week:02d}"
    return f"month:{start.year:04d}-{start.month:02d}"
