"""Calendar periods in a program's time zone: where a day, a week or a month begins and ends.

Every feature that counts "per day", "per week" or "per month" (period caps, statements,
daily withdrawal caps, monthly payouts) cuts time at the program's local midnight
(`Program.time_zone`, an IANA name, default Asia/Shanghai), not at UTC midnight.

`period_bounds(moment, period, tz)` gives the half-open interval [start, end) containing
`moment`, cut in `tz` but returned as UTC datetimes: the form every timestamp is stored in.
Pass them to a query as they are. A bound in another offset would be the same instant, but
SQLite compares stored datetimes as text, so "2026-03-06 00:00:00+08:00" would sort after
"2026-03-05 16:30:00+00:00" although it is half an hour earlier. The periods are:
- day: local midnight to the next local midnight;
- week: ISO weeks, Monday 00:00 to the next Monday 00:00;
- month: the 1st at 00:00 to the 1st of the next month at 00:00.

Boundaries are local wall-clock midnights, so a period may last other than its nominal
length: a day on which daylight saving time starts lasts 23 hours in America/New_York, the
day it ends 25 hours (`end - start` is the true length). Consecutive periods tile time with
no gap or overlap. A local midnight that does not exist (a zone that springs forward at
00:00) resolves to the first instant after the gap, as `zoneinfo` does with fold=0.
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
    """The first real instant of a local calendar date, in UTC (a midnight inside a
    spring-forward gap maps to the instant the gap ends, as zoneinfo does with fold=0)."""
    return datetime(year, month, day, tzinfo=tz).astimezone(UTC)


def period_bounds(moment: datetime, period: str, tz: tzinfo) -> tuple[datetime, datetime]:
    """The [start, end) in UTC of the day, ISO week or month of `tz` containing `moment`.

    `moment` must be aware; 422 invalid_period for an unknown period kind.
    """
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
    """A stable name of the period containing `moment`: day:2024-05-01, week:2024-W18,
    month:2024-05."""
    start = period_bounds(moment, period, tz)[0].astimezone(tz)
    if period == Period.DAY:
        return f"day:{start.date().isoformat()}"
    if period == Period.WEEK:
        year, week, _ = start.date().isocalendar()
        return f"week:{year:04d}-W{week:02d}"
    return f"month:{start.year:04d}-{start.month:02d}"
