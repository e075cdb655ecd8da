"""Report ranges: presets and custom dates as whole local days of the program's zone, the
previous period of the same length, and the hourly or daily series buckets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from enum import StrEnum

from server.domain.errors import ValidationFailed

# The longest range a report covers: a little over a year, so last year's month compares.
MAX_RANGE_DAYS = 400
# Days a report may name at all (far from the calendar's ends, where arithmetic overflows).
EARLIEST_DAY = date(2000, 1, 1)
LATEST_DAY = date(2199, 12, 31)


class Preset(StrEnum):
    TODAY = "today"
    YESTERDAY = "yesterday"
    LAST_7_DAYS = "last_7_days"
    LAST_30_DAYS = "last_30_days"
    LAST_90_DAYS = "last_90_days"
    THIS_MONTH = "this_month"
    LAST_MONTH = "last_month"
    CUSTOM = "custom"


class Granularity(StrEnum):
    HOUR = "hour"
    DAY = "day"


@dataclass(frozen=True)
class Bucket:
    """One point of a series: its label and [start, end) in UTC."""

    label: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class ReportRange:
    """Local calendar days [first, last] and their UTC bounds [start, end)."""

    first: date
    last: date
    start: datetime
    end: datetime

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def granularity(self) -> Granularity:
        return Granularity.HOUR if self.days == 1 else Granularity.DAY


def local_midnight(day: date, tz: tzinfo) -> datetime:
    """The first instant of a local calendar date, in UTC."""
    return datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)


def local_hour_start(moment: datetime, tz: tzinfo) -> datetime:
    """The start, in UTC, of the local hour of `tz` containing `moment` (a rollup bucket).

    Local hours, not UTC hours: in a zone offset by 30 or 45 minutes a local day is still a
    whole number of these buckets. A repeated hour at a DST change is two buckets."""
    local = moment.astimezone(tz)
    return local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)


def next_hour_start(hour: datetime, tz: tzinfo) -> datetime:
    """The local hour bucket after `hour` (a bucket itself): where `hour` ends."""
    return local_hour_start(hour + timedelta(hours=1), tz)


def hour_starts(start: datetime, end: datetime, tz: tzinfo) -> list[datetime]:
    """The local hour buckets of `tz` starting in [start, end), `start` being one."""
    found = []
    while start < end:
        found.append(start)
        start = next_hour_start(start, tz)
    return found


def days_range(first: date, last: date, tz: tzinfo) -> ReportRange:
    """The range of local days first..last (both included)."""
    for name, day in (("from", first), ("to", last)):
        if not EARLIEST_DAY <= day <= LATEST_DAY:
            raise ValidationFailed(
                "a report covers days from 2000 to 2199",
                code="invalid_range",
                fields={name: f"between {EARLIEST_DAY} and {LATEST_DAY}"},
            )
    if last < first:
        raise ValidationFailed(
            "the range ends before it starts", code="invalid_range", fields={"to": "before from"}
        )
    if (last - first).days + 1 > MAX_RANGE_DAYS:
        raise ValidationFailed(
            f"a report covers at most {MAX_RANGE_DAYS} days",
            code="range_too_long",
            fields={"to": f"at most {MAX_RANGE_DAYS} days after from"},
        )
    end = local_midnight(last + timedelta(days=1), tz)
    return ReportRange(first=first, last=last, start=local_midnight(first, tz), end=end)


def _month_start(day: date) -> date:
    return day.replace(day=1)


def preset_range(
    preset: str, *, now: datetime, tz: tzinfo, first: date | None = None, last: date | None = None
) -> ReportRange:
    """The range a preset names, seen at `now` in `tz` (custom takes first and last)."""
    try:
        chosen = Preset(preset)
    except ValueError:
        raise ValidationFailed(
            f"unknown preset {preset!r}",
            code="invalid_preset",
            fields={"preset": "one of " + ", ".join(p.value for p in Preset)},
        ) from None
    today = now.astimezone(tz).date()
    if chosen == Preset.CUSTOM:
        if first is None or last is None:
            raise ValidationFailed(
                "a custom range needs from and to",
                code="invalid_range",
                fields={"from": "required", "to": "required"},
            )
        return days_range(first, last, tz)
    spans = {
        Preset.TODAY: (today, today),
        Preset.YESTERDAY: (today - timedelta(days=1), today - timedelta(days=1)),
        Preset.LAST_7_DAYS: (today - timedelta(days=6), today),
        Preset.LAST_30_DAYS: (today - timedelta(days=29), today),
        Preset.LAST_90_DAYS: (today - timedelta(days=89), today),
        Preset.THIS_MONTH: (_month_start(today), today),
    }
    if chosen == Preset.LAST_MONTH:
        last_day = _month_start(today) - timedelta(days=1)
        return days_range(_month_start(last_day), last_day, tz)
    return days_range(*spans[chosen], tz)


def previous_range(current: ReportRange, tz: tzinfo) -> ReportRange:
    """The same number of local days immediately before `current`."""
    last = current.first - timedelta(days=1)
    return days_range(last - timedelta(days=current.days - 1), last, tz)


def series_buckets(current: ReportRange, tz: tzinfo) -> list[Bucket]:
    """Hourly buckets for a one-day range, daily ones otherwise, labelled in local time."""
    buckets: list[Bucket] = []
    if current.granularity == Granularity.HOUR:
        starts = hour_starts(current.start, current.end, tz)
        return [
            Bucket(label=start.astimezone(tz).isoformat(timespec="minutes"), start=start, end=end)
            for start, end in zip(starts, [*starts[1:], current.end], strict=True)
        ]
    day = current.first
    while day <= current.last:
        following = day + timedelta(days=1)
        buckets.append(
            Bucket(
                label=day.isoformat(),
                start=local_midnight(day, tz),
                end=local_midnight(following, tz),
            )
        )
        day = following
    return buckets
