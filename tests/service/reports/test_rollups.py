"""Rollups follow the raw rows: marks written with each change, the refresh job, rebuilds."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from server.domain.periods import zone
from server.domain.reports.ranges import preset_range
from server.domain.reports.rollup import Dimension
from server.models import ReportMark, ReportRangeFigures
from server.services.reports import cached
from server.services.reports.rollups import rebuild_reports, refresh_reports
from tests.order_builders import (
    T0,
    bind,
    chain,
    customer,
    line,
    paid,
    refunded,
    send_ok,
    shop,
)
from tests.report_builders import recomputed_totals, stored_rollups, visit

pytestmark = pytest.mark.usefixtures("db")
D = Decimal


async def test_a_refund_after_refresh_changes_the_bucket_the_order_was_paid_in() -> None:
    program = await shop(time_zone="Asia/Shanghai")
    _top, nearest = await chain(program, 2)
    buyer = await customer()
    await bind(program, nearest, user=buyer, at=T0 - timedelta(hours=2))
    await visit(program, nearest, T0 - timedelta(hours=2), visitor="a")
    await visit(program, nearest, T0 - timedelta(hours=2), visitor="b", bot=True)
    await send_ok(program, paid("O1", line("L1", "100.00"), buyer=buyer, placed_at=T0))
    await refresh_reports()
    await send_ok(program, refunded("O1", lines={"L1": "30.00"}, at=T0 + timedelta(days=3)))
    assert await ReportMark.filter(program_id=program.id).count() == 1
    await refresh_reports()

    paid_hour = (T0, "all", "*")
    assert (await stored_rollups(program, "all"))[paid_hour] == {
        "orders": 1,
        "gmv": D("100.00"),
        "refunds": D("30.00"),
        "net_sales": D("70.00"),
        "commissions_pending": 2,
        "commission_amount_pending": D("10.50"),  # 10% and 5% of the 70.00 left
    }
    visit_hour = (T0 - timedelta(hours=2), "all", "*")
    assert (await stored_rollups(program, "all"))[visit_hour] == {
        "visits": 1,
        "bot_visits": 1,
        "bindings": 1,
    }
    assert await stored_rollups(program, "all") == await recomputed_totals(program)
    assert await ReportMark.filter(program_id=program.id).count() == 0


async def test_a_rebuild_reproduces_what_the_refresh_job_kept() -> None:
    program = await shop()
    (nearest,) = await chain(program, 1)
    buyer = await customer()
    await bind(program, nearest, user=buyer, at=T0 - timedelta(days=1))
    await visit(program, nearest, T0, utm=("wechat", "social", "spring"), site_id=None)
    await send_ok(program, paid("O1", line("L1", "80.00", category="tea"), buyer=buyer))
    await refresh_reports()
    kept = await stored_rollups(program)

    await rebuild_reports(start=T0 - timedelta(days=3), end=T0 + timedelta(days=3))
    assert await stored_rollups(program) == kept
    assert kept[(T0, "utm_source", "wechat")] == {"visits": 1}
    assert kept[(T0, "category", "tea")]["net_sales"] == D("80.00")
    assert kept[(T0, "promoter", str(nearest.id))]["commission_amount_pending"] == D("8.00")


async def test_a_day_at_plus_eight_hours_starts_at_sixteen_hundred_utc() -> None:
    program = await shop(time_zone="Asia/Shanghai")
    (nearest,) = await chain(program, 1)
    before_midnight = datetime(2026, 3, 1, 15, 59, tzinfo=UTC)  # 23:59 on 1 March, local
    after_midnight = datetime(2026, 3, 1, 16, 0, tzinfo=UTC)  # 00:00 on 2 March, local
    await visit(program, nearest, before_midnight)
    await visit(program, nearest, after_midnight)
    await refresh_reports()
    buckets = {key[0] for key in await stored_rollups(program, "all")}
    assert buckets == {datetime(2026, 3, 1, 15, tzinfo=UTC), after_midnight}


async def test_visits_are_counted_in_the_local_hour_they_arrived_in_at_plus_0545() -> None:
    program = await shop(time_zone="Asia/Kathmandu")  # local hours start at :15 UTC
    (nearest,) = await chain(program, 1)
    hour = datetime(2026, 3, 1, 18, 15, tzinfo=UTC)  # 00:00 on 2 March, local
    edge = hour + timedelta(hours=1)
    for at, who, bot in (
        (hour - timedelta(microseconds=1), "a", False),  # the hour before
        (hour, "a", False),
        (hour + timedelta(minutes=59), "a", False),  # the same visitor twice: one unique
        (hour + timedelta(minutes=30), "b", False),
        (hour + timedelta(minutes=31), "bot", True),  # counted apart, never a visitor
        (edge, "b", False),  # the next hour's first instant
    ):
        await visit(program, nearest, at, visitor=who, bot=bot)
    await rebuild_reports(start=hour - timedelta(days=1), end=hour + timedelta(days=1))
    rows = await stored_rollups(program, "all")
    assert rows == {
        (hour - timedelta(hours=1), "all", "*"): {"visits": 1},
        (hour, "all", "*"): {"visits": 3, "bot_visits": 1},
        (edge, "all", "*"): {"visits": 1},
    }
    tz = zone("Asia/Kathmandu")
    day = preset_range("custom", now=T0, tz=tz, first=date(2026, 3, 2), last=date(2026, 3, 2))
    unique = await cached.by_value(program_id=program.id, dimension=Dimension.ALL, r=day, tz=tz)
    assert unique["*"][1] == 2  # a and b on the local day of 2 March


async def test_a_change_at_a_beijing_time_marks_the_utc_quarter_hour_of_that_instant() -> None:
    from server.db import connection
    from server.services.reports.marks import mark_instants

    program = await shop()
    beijing = timezone(timedelta(hours=8))
    await mark_instants(
        conn=connection(),
        program_id=program.id,
        instants=[datetime(2026, 3, 9, 23, 7, tzinfo=beijing)],
    )

    marks = await ReportMark.filter(program_id=program.id).values_list("at", flat=True)
    assert marks == [datetime(2026, 3, 9, 15, 0, tzinfo=UTC)]


async def test_a_refresh_keeps_again_the_ranges_it_forgot_with_their_new_figures() -> None:
    program = await shop(time_zone="Asia/Shanghai")
    _top, nearest = await chain(program, 2)
    await visit(program, nearest, T0, visitor="a")
    await refresh_reports()
    tz = zone(program.time_zone)
    day = T0.astimezone(tz).date()
    r = preset_range("custom", now=T0, tz=tz, first=day - timedelta(days=1), last=day)
    before = await cached.by_value(program_id=program.id, dimension=Dimension.ALL, r=r, tz=tz)
    assert before["*"][0]["visits"] == 1

    await visit(program, nearest, T0 + timedelta(minutes=5), visitor="b")
    await refresh_reports()

    kept = await ReportRangeFigures.filter(program_id=program.id, dimension="all", value="*")
    assert [(row.days, row.visits, row.unique_visitors) for row in kept] == [(2, 2, 2)]
    assert await cached.by_value(
        program_id=program.id, dimension=Dimension.ALL, r=r, tz=tz
    ) == await cached.compute(program.id, Dimension.ALL, r, tz)
