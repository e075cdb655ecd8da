"""Metrics whose rules the API tests do not reach, with hand-computed figures: cancelled and
fully refunded orders, settled and paid commissions in the funnel, new promoters."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from server.models import PromoterStatusChange
from server.services.reports import queries
from server.services.reports.reads import Segment
from server.services.reports.rollups import refresh_reports
from tests.order_builders import (
    T0,
    bind,
    cancelled,
    chain,
    customer,
    line,
    paid,
    promoter,
    refunded,
    send_ok,
    settle_order,
    shop,
)
from tests.report_builders import visit

pytestmark = pytest.mark.usefixtures("db")
D = Decimal
T0_DAY = date(2026, 3, 2)  # T0 (10:00 UTC) is 2 March in Shanghai too


async def _paid_order(**program_settings: Any) -> Any:
    """One order of 100.00 paid at T0, earning 10.00 (level 1) and 5.00 (level 2)."""
    program = await shop(time_zone="Asia/Shanghai", **program_settings)
    _top, nearest = await chain(program, 2)
    buyer = await customer()
    await bind(program, nearest, user=buyer)
    await send_ok(program, paid("O1", line("L1", "100.00"), buyer=buyer))
    return program


async def _totals(program: Any, first: date = T0_DAY, last: date = T0_DAY) -> dict[str, Any]:
    await refresh_reports()
    window = await queries.report_window(
        program_id=program.id, preset="custom", first=first, last=last
    )
    return (await queries.overview(window=window, segment=Segment()))["totals"]


async def test_a_cancelled_order_refunds_its_whole_amount_and_its_commissions_are_rejected() -> (
    None
):
    program = await _paid_order()
    await send_ok(program, cancelled("O1"))
    totals = await _totals(program)
    assert (totals["orders"], totals["gmv"], totals["refunds"], totals["net_sales"]) == (
        1,
        "100.00",
        "100.00",
        "0.00",
    )
    # Rejected commissions count what they were worth; the program's cost is nothing.
    assert totals["commissions_by_status"]["rejected"] == {"count": 2, "amount": "15.00"}
    assert totals["commissions"] == "0.00"
    assert totals["average_order_value"] == "0.00"
    assert totals["commission_cost_ratio"] is None  # no net sales to divide by


async def test_a_full_refund_reverses_every_commission_at_what_it_was_worth() -> None:
    program = await _paid_order()
    await send_ok(program, refunded("O1", full=True))
    totals = await _totals(program)
    assert (totals["refunds"], totals["net_sales"]) == ("100.00", "0.00")
    by_status = totals["commissions_by_status"]
    assert by_status["reversed"]["count"] + by_status["rejected"]["count"] == 2
    assert D(by_status["reversed"]["amount"]) + D(by_status["rejected"]["amount"]) == D("15.00")


async def test_settled_commissions_reach_the_end_of_the_funnel() -> None:
    program = await _paid_order()
    await settle_order(program, "O1", completed_at=T0 + timedelta(days=1))
    totals = await _totals(program)
    assert totals["commissions_by_status"]["settled"] == {"count": 2, "amount": "15.00"}
    assert totals["settled_commissions"] == {"count": 2, "amount": "15.00"}
    window = await queries.report_window(
        program_id=program.id, preset="custom", first=T0_DAY, last=T0_DAY
    )
    funnel = await queries.funnel(window=window, segment=Segment())
    assert funnel["steps"][-1] == {
        "step": "settled_commissions",
        "count": 2,
        "rate_from_previous_step": "2.0000",  # two commissions on one order
    }


async def test_new_promoters_are_the_ones_first_approved_in_the_range() -> None:
    program = await shop(time_zone="Asia/Shanghai")
    inside, outside = await promoter(program), await promoter(program)
    for who, at in ((inside, T0), (outside, T0 - timedelta(days=3))):
        change = await PromoterStatusChange.create(
            promoter=who, from_status="applied", to_status="approved", action="approve",
            actor_kind="staff",
        )  # fmt: skip
        await PromoterStatusChange.filter(id=change.id).update(at=at)
    window = await queries.report_window(
        program_id=program.id, preset="custom", first=T0_DAY, last=T0_DAY
    )
    body = await queries.overview(window=window, segment=Segment())
    assert (body["promoters"]["new"], body["promoters"]["new_previous"]) == (1, 0)


async def test_a_visitor_back_on_a_second_day_is_one_unique_visitor_of_both_days() -> None:
    program = await shop(time_zone="Asia/Shanghai")
    (nearest,) = await chain(program, 1)
    for visitor, at in (("a", T0), ("b", T0), ("a", T0 + timedelta(days=1))):
        await visit(program, nearest, at, visitor=visitor)
    await refresh_reports()
    window = await queries.report_window(
        program_id=program.id, preset="custom", first=T0_DAY, last=T0_DAY + timedelta(days=1)
    )
    body = await queries.overview(window=window, segment=Segment())
    assert (body["totals"]["visits"], body["totals"]["unique_visitors"]) == (3, 2)
    assert [p["unique_visitors"] for p in body["series"]] == [2, 1]
    by_promoter = await queries.breakdown(window=window, dimension="promoter", limit=10)
    assert [i["unique_visitors"] for i in by_promoter["items"]] == [2]
