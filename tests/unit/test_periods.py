"""Calendar periods in a program's time zone, and the program settings that choose the zone
and the link-versus-coupon policy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.domain.errors import ValidationFailed
from server.domain.periods import Period, period_bounds, period_key
from server.domain.programs.document import (
    apply_settings_patch,
    default_document,
    settings_from_document,
    settings_to_document,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
SANTIAGO = ZoneInfo("America/Santiago")  # springs forward at local midnight


def _utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def test_a_day_begins_at_local_midnight_not_at_utc_midnight() -> None:
    start, end = period_bounds(_utc(2026, 3, 5, 16, 30), "day", SHANGHAI)
    assert start == _utc(2026, 3, 5, 16, 0)  # March 6 00:00 in Shanghai
    assert end == _utc(2026, 3, 6, 16, 0)
    # Returned in UTC, the form stored timestamps have: safe to compare in any database.
    assert start.tzinfo is UTC and start.isoformat() == "2026-03-05T16:00:00+00:00"


def test_the_day_daylight_saving_starts_lasts_23_hours_and_the_day_it_ends_25() -> None:
    spring_start, spring_end = period_bounds(_utc(2026, 3, 8, 12), "day", NEW_YORK)
    assert spring_start == _utc(2026, 3, 8, 5)  # 00:00 EST
    assert spring_end == _utc(2026, 3, 9, 4)  # 00:00 EDT
    assert spring_end - spring_start == timedelta(hours=23)
    autumn_start, autumn_end = period_bounds(_utc(2026, 11, 1, 12), "day", NEW_YORK)
    assert autumn_end - autumn_start == timedelta(hours=25)


def test_a_local_midnight_that_does_not_exist_starts_the_day_after_the_gap() -> None:
    # Chile skips 2026-09-06 00:00..01:00: the day begins at 01:00 local (04:00 UTC).
    start, end = period_bounds(_utc(2026, 9, 6, 12), "day", SANTIAGO)
    assert start == _utc(2026, 9, 6, 4)
    assert start.astimezone(SANTIAGO).hour == 1
    assert end == _utc(2026, 9, 7, 3)


def test_a_month_runs_from_the_first_to_the_first_including_february_and_december() -> None:
    assert period_bounds(_utc(2028, 2, 29, 23), "month", UTC) == (
        _utc(2028, 2, 1),
        _utc(2028, 3, 1),
    )
    start, end = period_bounds(_utc(2026, 12, 31, 16, 30), "month", SHANGHAI)
    # Dec 31 16:30 UTC is Jan 1 00:30 in Shanghai: already next year's January.
    assert start == _utc(2026, 12, 31, 16)
    assert end == _utc(2027, 1, 31, 16)
    assert period_key(_utc(2026, 12, 31, 16, 30), "month", SHANGHAI) == "month:2027-01"


def test_a_month_across_a_daylight_saving_change_ends_at_local_midnight() -> None:
    start, end = period_bounds(_utc(2026, 3, 15), "month", NEW_YORK)
    assert (start, end) == (_utc(2026, 3, 1, 5), _utc(2026, 4, 1, 4))


def test_a_week_is_an_iso_week_from_monday() -> None:
    # 2026-03-08 is a Sunday.
    start, end = period_bounds(_utc(2026, 3, 8, 12), "week", NEW_YORK)
    assert start == _utc(2026, 3, 2, 5)
    assert end == _utc(2026, 3, 9, 4)
    assert start.astimezone(NEW_YORK).weekday() == 0
    assert period_key(_utc(2026, 3, 8, 12), "week", NEW_YORK) == "week:2026-W10"
    assert period_key(_utc(2026, 3, 8, 12), "day", NEW_YORK) == "day:2026-03-08"


def test_an_unknown_period_is_refused_with_a_code_and_a_naive_moment_with_an_error() -> None:
    with pytest.raises(ValidationFailed) as caught:
        period_bounds(_utc(2026, 1, 1), "fortnight", UTC)
    assert caught.value.code == "invalid_period"
    with pytest.raises(ValueError, match="aware"):
        period_bounds(datetime(2026, 1, 1), "day", UTC)


ZONES = [UTC, SHANGHAI, NEW_YORK, SANTIAGO, ZoneInfo("Australia/Lord_Howe")]


@given(
    moment=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)
    ),
    period=st.sampled_from(list(Period)),
    tz=st.sampled_from(ZONES),
)
def test_periods_contain_their_moment_and_tile_time(
    moment: datetime, period: Period, tz: Any
) -> None:
    start, end = period_bounds(moment, period, tz)
    assert start <= moment < end
    assert period_bounds(end, period, tz)[0] == end  # the next period starts where this ends
    assert period_bounds(start, period, tz) == (start, end)


# ---------------------------------------------------------------- the program settings


def _document(**changes: Any) -> dict[str, Any]:
    base = {"name": "Shop", "currency": "CNY", "max_levels": 1, "level_rates": ["10"]}
    return apply_settings_patch(apply_settings_patch(default_document(), base), changes)


def test_a_program_counts_in_shanghai_time_and_lets_the_coupon_win_by_default() -> None:
    settings = settings_from_document(_document())
    assert settings.time_zone == "Asia/Shanghai"
    assert settings.attribution_conflict_policy == "coupon_wins"
    document = settings_to_document(settings)
    assert (document["time_zone"], document["attribution_conflict_policy"]) == (
        "Asia/Shanghai",
        "coupon_wins",
    )


def test_any_iana_zone_and_either_policy_are_accepted() -> None:
    settings = settings_from_document(
        _document(time_zone="America/New_York", attribution_conflict_policy="binding_wins")
    )
    assert (settings.time_zone, settings.attribution_conflict_policy) == (
        "America/New_York",
        "binding_wins",
    )


@pytest.mark.parametrize(
    "zone", ["", "Mars/Olympus", "asia/shanghai", "../etc/passwd", "localtime", "Asia", 42]
)
def test_a_time_zone_that_is_not_an_iana_name_is_refused(zone: Any) -> None:
    with pytest.raises(ValidationFailed) as caught:
        settings_from_document(_document(time_zone=zone))
    assert caught.value.code == "invalid_program_settings"
    assert set(caught.value.fields) == {"time_zone"}


def test_an_unknown_conflict_policy_setting_is_refused() -> None:
    with pytest.raises(ValidationFailed) as caught:
        settings_from_document(_document(attribution_conflict_policy="split"))
    assert caught.value.fields == {
        "attribution_conflict_policy": "must be one of coupon_wins, binding_wins"
    }
