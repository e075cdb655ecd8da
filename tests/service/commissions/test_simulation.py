"""Simulating a rule-set version over a past range re-runs the real orders through the
engine: the live version pays exactly what was paid, a changed rate pays what the engine
computes by hand on those orders, days are the program's, and a simulation stays bounded."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from server.domain.commissions.calc import evaluate_order
from server.domain.commissions.inputs import (
    BeneficiaryChain,
    ChainMember,
    OrderLine,
    OrderSnapshot,
)
from server.domain.commissions.rules import CommissionRule
from server.domain.errors import ValidationFailed
from server.services.commissions.preview import program_terms
from server.services.commissions.simulation import simulate_version
from server.services.programs.period_caps import create_cap
from server.services.programs.rule_sets import create_draft, edit_draft, list_versions
from tests.order_builders import ADMIN, bind, chain, customer, line, paid, send_ok, shop

# 10:00 in Shanghai on 2 March, and 00:30 on 2 March there (16:30 UTC on 1 March).
MORNING = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
AFTER_LOCAL_MIDNIGHT = datetime(2026, 3, 1, 16, 30, tzinfo=UTC)
BEFORE_LOCAL_MIDNIGHT = datetime(2026, 3, 1, 15, 59, tzinfo=UTC)
MARCH_2 = date(2026, 3, 2)


async def _shop_with_orders():  # type: ignore[no-untyped-def]
    program = await shop()
    top, nearest = await chain(program, 2)
    await create_cap(
        program_id=program.id, document={"period": "day", "amount": "12.00"}, actor=ADMIN
    )
    buyer = await customer()
    await bind(program, nearest, user=buyer, at=datetime(2026, 2, 20, tzinfo=UTC))
    await send_ok(program, paid("S-1", line("L1", "100.00"), buyer=buyer, placed_at=MORNING))
    await send_ok(
        program,
        paid(
            "S-2",
            line("L1", "60.00", product_id="SKU-2"),
            line("L2", "40.00"),
            buyer=buyer,
            placed_at=AFTER_LOCAL_MIDNIGHT,
        ),
    )
    await send_ok(
        program, paid("S-0", line("L1", "100.00"), buyer=buyer, placed_at=BEFORE_LOCAL_MIDNIGHT)
    )
    return program, top, nearest


async def _live_version_id(program_id: int) -> int:
    listed = await list_versions(program_id=program_id)
    return next(item["id"] for item in listed["items"] if item["live"])


async def test_simulating_the_live_version_pays_exactly_what_was_paid(db: str) -> None:
    program, top, nearest = await _shop_with_orders()

    result = await simulate_version(
        version_id=await _live_version_id(program.id), start=MARCH_2, end=MARCH_2
    )

    assert result["orders"] == 2  # S-0 was placed on 1 March in Shanghai
    assert result["totals"]["difference"] == "0.00"
    assert result["totals"]["paid"] == result["totals"]["simulated"]
    # The day cap (12.00) held nearest to 12.00 over both orders.
    by_promoter = {row["promoter_id"]: row for row in result["by_promoter"]}
    assert by_promoter[nearest.id]["paid"] == "12.00"
    assert by_promoter[top.id]["paid"] == "10.00"
    assert all(row["difference"] == "0.00" for row in result["by_level"] + result["by_product"])


async def test_a_changed_rate_pays_what_the_engine_computes_on_those_orders(db: str) -> None:
    program, top, nearest = await _shop_with_orders()
    draft, _ = await create_draft(program_id=program.id, actor=ADMIN)
    cap_key = draft.document["period_cap"][0]["id"]
    await edit_draft(
        version_id=draft.id, kind="period_cap", key=cap_key, changes={"enabled": False}, actor=ADMIN
    )
    await edit_draft(
        version_id=draft.id,
        kind="commission_rule",
        key=None,
        changes={"kind": "percent", "value": "15", "level": 2},
        actor=ADMIN,
    )

    result = await simulate_version(version_id=draft.id, start=MARCH_2, end=MARCH_2, top=1)

    # By hand: the engine on the two orders, L2 at 15% by a rule, no cap.
    terms = program_terms(program)
    rule = CommissionRule(id=1, program_id=program.id, kind="percent", value=Decimal(15), level=2)
    members = (ChainMember(promoter_id=nearest.id, status="approved"),)
    uplines = (ChainMember(promoter_id=top.id, status="approved"),)
    by_hand = Decimal(0)
    for placed_at, amounts in ((MORNING, ["100.00"]), (AFTER_LOCAL_MIDNIGHT, ["60.00", "40.00"])):
        order = OrderSnapshot(
            program_id=program.id,
            currency="CNY",
            placed_at=placed_at,
            lines=tuple(
                OrderLine(
                    line_id=f"L{i}",
                    product_id="x",
                    quantity=1,
                    unit_price=Decimal(a),
                    amount=Decimal(a),
                )
                for i, a in enumerate(amounts, start=1)
            ),
        )
        chain_ = BeneficiaryChain.referred(*members, uplines, bound_at=None)
        by_hand += evaluate_order(order=order, terms=terms, rules=[rule], chain=chain_).total
    assert Decimal(result["totals"]["simulated"]) == by_hand == Decimal("50.00")
    assert result["totals"]["paid"] == "22.00"
    assert result["totals"]["difference"] == "28.00"
    levels = {row["level"]: row for row in result["by_level"]}
    assert levels[2] == {"level": 2, "paid": "10.00", "simulated": "30.00", "difference": "20.00"}
    assert [row["external_id"] for row in result["top_orders"]] == ["S-2"]


async def test_a_simulation_longer_than_the_bound_is_refused(db: str) -> None:
    program = await shop()
    version_id = await _live_version_id(program.id)

    with pytest.raises(ValidationFailed) as refused:
        await simulate_version(version_id=version_id, start=date(2026, 1, 1), end=date(2026, 6, 1))
    assert refused.value.code == "simulation_too_large"
    with pytest.raises(ValidationFailed) as backwards:
        await simulate_version(version_id=version_id, start=MARCH_2, end=date(2026, 3, 1))
    assert backwards.value.code == "invalid_simulation_range"


async def test_a_range_no_order_can_fall_in_is_refused_not_failed(db: str) -> None:
    program = await shop()
    version_id = await _live_version_id(program.id)

    for start, end in ((date(1, 1, 1), date(1, 1, 2)), (date.max, date.max)):
        with pytest.raises(ValidationFailed) as refused:
            await simulate_version(version_id=version_id, start=start, end=end)
        assert refused.value.code == "invalid_simulation_range"
