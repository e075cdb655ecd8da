"""The behaviour page counts per day of the program's time zone, not per UTC day."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from server import clock
from server.models import Visit
from server.services.promoters.behaviour import offset_spans, promoter_behaviour
from tests.service.sharing.test_share_support import make_program, make_promoter

pytestmark = pytest.mark.usefixtures("db")

SHANGHAI = ZoneInfo("Asia/Shanghai")


async def test_a_visit_at_17_utc_counts_on_the_next_day_in_shanghai() -> None:
    program = await make_program()
    program.time_zone = "Asia/Shanghai"
    await program.save()
    me = await make_promoter(program)
    yesterday = clock.now().astimezone(SHANGHAI).date() - timedelta(days=1)
    before = datetime.combine(yesterday - timedelta(days=1), time(17, 0), tzinfo=UTC)
    late_evening = datetime.combine(yesterday - timedelta(days=1), time(15, 0), tzinfo=UTC)
    for at, visitor in ((before, "a"), (late_evening, "b")):
        await Visit.create(
            program_id=program.id, promoter_id=me.id, visitor_hash=visitor, source="h5", at=at
        )

    page = await promoter_behaviour(promoter_id=me.id, days=7)

    by_day = {row["day"]: row["visits"] for row in page["days"]}
    assert by_day[yesterday.isoformat()] == 1  # 01:00 in Shanghai
    assert by_day[(yesterday - timedelta(days=1)).isoformat()] == 1  # 23:00 in Shanghai
    assert page["to"] == yesterday + timedelta(days=1)
    assert page["totals"]["visits"] == 2


async def test_a_utc_program_still_counts_utc_days() -> None:
    program = await make_program()
    program.time_zone = "UTC"
    await program.save()
    me = await make_promoter(program)
    yesterday = clock.now().astimezone(UTC).date() - timedelta(days=1)
    at = datetime.combine(yesterday, time(17, 0), tzinfo=UTC)
    await Visit.create(program_id=program.id, promoter_id=me.id, source="h5", at=at)

    page = await promoter_behaviour(promoter_id=me.id, days=3)

    assert {row["day"]: row["visits"] for row in page["days"]}[yesterday.isoformat()] == 1


def test_a_range_over_a_daylight_saving_change_splits_at_the_change() -> None:
    new_york = ZoneInfo("America/New_York")
    since = datetime(2026, 3, 7, 5, 0, tzinfo=UTC)
    until = datetime(2026, 3, 10, 4, 0, tzinfo=UTC)

    spans = offset_spans(since, until, new_york)

    assert spans == [
        (since, datetime(2026, 3, 8, 7, 0, tzinfo=UTC), -300),
        (datetime(2026, 3, 8, 7, 0, tzinfo=UTC), until, -240),
    ]
    assert offset_spans(since, until, SHANGHAI) == [(since, until, 480)]
