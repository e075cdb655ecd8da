from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.domain.payouts.schedule import (
    BatchTrigger,
    Item,
    ItemKind,
    Source,
    allocate,
    is_eligible,
    manual_batch,
    scheduled_batch,
)
from server.domain.programs.settings import PayoutSchedule

D = Decimal
C = ItemKind.COMMISSION


def _src(source_id: int, remaining: str, kind: ItemKind = C) -> Source:
    return Source(kind, source_id, D(remaining))


def test_a_payout_covers_the_oldest_commissions_first_and_splits_the_last() -> None:
    items = allocate(D("25"), [_src(1, "10"), _src(2, "20"), _src(3, "30")])
    assert items == [Item(C, 1, D("10")), Item(C, 2, D("15"))]


def test_a_negative_carry_forward_is_netted_before_any_commission() -> None:
    items = allocate(D("20"), [_src(1, "30"), _src(2, "-15"), _src(3, "10")])
    assert items == [Item(C, 2, D("-15")), Item(C, 1, D("30")), Item(C, 3, D("5"))]
    assert sum(i.amount for i in items) == D("20")


def test_what_no_commission_explains_is_one_unattributed_item() -> None:
    items = allocate(D("50"), [_src(1, "20")])
    assert items == [Item(C, 1, D("20")), Item(ItemKind.UNATTRIBUTED, None, D("30"))]


def test_adjustments_are_covered_in_the_order_given_like_commissions() -> None:
    items = allocate(D("12"), [_src(1, "5"), _src(9, "10", ItemKind.ADJUSTMENT)])
    assert items == [Item(C, 1, D("5")), Item(ItemKind.ADJUSTMENT, 9, D("7"))]


def test_nothing_is_allocated_for_a_zero_payout() -> None:
    with pytest.raises(ValueError):
        allocate(D("0"), [_src(1, "5")])


amounts = st.decimals(min_value=D("-50"), max_value=D("100"), places=2).filter(lambda d: d != 0)


@given(
    gross=st.decimals(min_value=D("0.01"), max_value=D("500"), places=2),
    remaining=st.lists(amounts, max_size=12),
)
def test_the_items_always_add_up_to_the_gross_and_never_cover_more_than_remains(
    gross: Decimal, remaining: list[Decimal]
) -> None:
    sources = [Source(C, index, value) for index, value in enumerate(remaining, start=1)]
    items = allocate(gross, sources)
    assert sum(i.amount for i in items) == gross
    by_id = {s.id: s.remaining for s in sources}
    for item in items:
        if item.source_id is not None and item.amount > 0:
            assert item.amount <= by_id[item.source_id]


NOV_5 = datetime(2026, 11, 5, 9, 0)


def test_a_manual_schedule_never_creates_a_batch_by_itself() -> None:
    assert scheduled_batch(PayoutSchedule(mode="manual"), minimum=D("1"), now=NOV_5) is None


def test_a_monthly_schedule_pays_from_its_day_on_once_per_month() -> None:
    schedule = PayoutSchedule(mode="monthly", day=5)
    assert scheduled_batch(schedule, minimum=D("1"), now=NOV_5.replace(day=4)) is None
    on_day = scheduled_batch(schedule, minimum=D("1"), now=NOV_5)
    late = scheduled_batch(schedule, minimum=D("1"), now=NOV_5.replace(day=20))
    assert on_day is not None and late is not None
    assert on_day.trigger == BatchTrigger.MONTHLY
    assert on_day.period_key == late.period_key == "monthly:2026-11"


def test_a_threshold_schedule_pays_balances_at_or_above_the_higher_of_threshold_and_minimum() -> (
    None
):
    plan = scheduled_batch(
        PayoutSchedule(mode="threshold", threshold=D("100")), minimum=D("10"), now=NOV_5
    )
    assert plan is not None and plan.period_key == "threshold:2026-11-05"
    assert is_eligible(D("100"), plan) and not is_eligible(D("99.99"), plan)
    low = scheduled_batch(
        PayoutSchedule(mode="threshold", threshold=D("5")), minimum=D("10"), now=NOV_5
    )
    assert low is not None and not is_eligible(D("9"), low)


def test_a_manual_batch_pays_every_balance_reaching_the_minimum_but_never_zero() -> None:
    plan = manual_batch(minimum=D("0"), key="x")
    assert not is_eligible(D("0"), plan)
    assert is_eligible(D("0.01"), plan)
