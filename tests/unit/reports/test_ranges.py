"""Report ranges are whole local days; the previous period has the same number of days."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from server.domain.errors import ValidationFailed
from server.domain.periods import zone
from server.domain.reports.ranges import (
    hour_starts,
    local_hour_start,
    preset_range,
    previous_range,
    series_buckets,
)

SHANGHAI = zone("Asia/Shanghai")
# 00:30 on 2 March in Shanghai, still 1 March in UTC.
NOW = datetime(2026, 3, 1, 16, 30, tzinfo=UTC)


def test_today_begins_at_local_midnight_not_utc_midnight() -> None:
    today = preset_range("today", now=NOW, tz=SHANGHAI)
    assert (today.first, today.start, today.end) == (
        date(2026, 3, 2),
        datetime(2026, 3, 1, 16, tzinfo=UTC),
        datetime(2026, 3, 2, 16, tzinfo=UTC),
    )
    assert today.granularity == "hour"
    assert len(series_buckets(today, SHANGHAI)) == 24


def test_last_7_days_include_today_and_compare_with_the_7_before() -> None:
    current = preset_range("last_7_days", now=NOW, tz=SHANGHAI)
    previous = previous_range(current, SHANGHAI)
    assert (current.first, current.last) == (date(2026, 2, 24), date(2026, 3, 2))
    assert (previous.first, previous.last) == (date(2026, 2, 17), date(2026, 2, 23))
    assert current.granularity == "day"
    assert series_buckets(current, SHANGHAI)[0].label == "2026-02-24"


def test_last_month_is_the_calendar_month_and_its_previous_as_many_days() -> None:
    current = preset_range("last_month", now=NOW, tz=SHANGHAI)
    assert (current.first, current.last) == (date(2026, 2, 1), date(2026, 2, 28))
    previous = previous_range(current, SHANGHAI)
    assert (previous.first, previous.last) == (date(2026, 1, 4), date(2026, 1, 31))


def test_this_month_runs_from_the_first_to_today() -> None:
    current = preset_range("this_month", now=NOW, tz=SHANGHAI)
    assert (current.first, current.last) == (date(2026, 3, 1), date(2026, 3, 2))


def test_a_custom_range_needs_both_ends_in_order() -> None:
    with pytest.raises(ValidationFailed) as refused:
        preset_range("custom", now=NOW, tz=SHANGHAI, first=date(2026, 3, 5), last=date(2026, 3, 1))
    assert refused.value.code == "invalid_range"
    with pytest.raises(ValidationFailed) as unknown:
        preset_range("fortnight", now=NOW, tz=SHANGHAI)
    assert unknown.value.code == "invalid_preset"


def test_a_half_hour_zone_buckets_by_its_own_hours() -> None:
    kolkata = zone("Asia/Kolkata")  # +05:30: local midnight is 18:30 UTC
    moment = datetime(2026, 3, 1, 18, 45, tzinfo=UTC)
    assert local_hour_start(moment, kolkata) == datetime(2026, 3, 1, 18, 30, tzinfo=UTC)


def test_the_repeated_hour_of_a_dst_change_is_two_buckets() -> None:
    new_york = zone("America/New_York")  # 1 Nov 2026: 01:00-02:00 happens twice
    first = datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    second = datetime(2026, 11, 1, 6, 30, tzinfo=UTC)
    assert local_hour_start(first, new_york) != local_hour_start(second, new_york)
    day = preset_range(
        "custom", now=NOW, tz=new_york, first=date(2026, 11, 1), last=date(2026, 11, 1)
    )
    assert len(series_buckets(day, new_york)) == 25


def test_the_hours_of_a_day_are_its_buckets_whatever_the_zone() -> None:
    for name, day, count in (
        ("Asia/Shanghai", date(2026, 3, 2), 24),
        ("Asia/Kathmandu", date(2026, 3, 2), 24),  # +05:45
        ("America/New_York", date(2026, 11, 1), 25),  # the repeated hour
        ("America/New_York", date(2026, 3, 8), 23),  # the skipped hour
    ):
        tz = zone(name)
        r = preset_range("custom", now=NOW, tz=tz, first=day, last=day)
        hours = hour_starts(r.start, r.end, tz)
        assert len(hours) == count
        assert hours == [b.start for b in series_buckets(r, tz)]
        assert all(local_hour_start(h, tz) == h for h in hours)
