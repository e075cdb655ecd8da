"""Calendar periods in a program's time zone: where a day, a week or a month begins and ends.

Every feature that counts "per day", "per week" or "per month" (period caps, statements,
daily withdrawal caps, monthly payouts) cuts time at the program's local midnight
(`Program.time_zone`, an IANA name, default Asia/Shanghai), not at UTC midnight.

`period_bounds(moment, period, tz)` gives the half-open interval [start, end) containing
`moment`, both aware and expressed in `tz`:
- day: local midnight to the next local midnight;
- week: ISO weeks, Monday 00:00 to the next Monday 00:00;
- month: the 1st at 00:00 to the 1st of the next month at 00:00.

Boundaries are wall-clock instants, so a period may last other than its nominal length in
real time: a day on which daylight saving time starts lasts 23 hours in America/New_York,
the day it ends 25 hours. The bounds are real instants all the same: `end - start` compared
in UTC is the true length, and consecutive periods tile time with no gap or overlap.
A local midnight that does not exist (a zone that springs forward at 00:00) resolves to the
first instant after the gap, as `zoneinfo` does with fold=0.
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
    """The first real instant of a local calendar date, as an aware datetime in `tz`."""
    wall = datetime(year, month, day, tzinfo=tz)
    # A wall time inside a spring-forward gap does not exist; round-tripping through UTC
    # moves it to the real instant zoneinfo maps it to, then back to local wall time.
    return wall.astimezone(UTC).astimezone(tz)


def period_bounds(moment: datetime, period: str, tz: tzinfo) -> tuple[datetime, datetime]:
    """The [start, end) of the day, ISO week or month containing `moment`, local to `tz`.

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
    start, _ = period_bounds(moment, period, tz)
    if period == Period.DAY:
        return f"day:{start.date().isoformat()}"
    if period == Period.WEEK:
        year, week, _ = start.date().isocalendar()
        return f"week:{year:04d}-W{week:02d}"
    return f"month:{start.year:04d}-{start.month:02d}"
