"""A time sent with an offset is the instant it names: caps, rules, the dry run, the freeze
and the fraud scan treat `…+08:00` exactly as the same instant in UTC, across local midnight
and across UTC midnight, on SQLite and on MariaDB."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from admin_api.commission_rules import RuleCreate
from admin_api.commissions import PreviewOrder
from server import clock
from server.models import Commission, Order, PeriodCapRecord, Program
from server.services.commissions.preview import preview_order
from server.services.commissions.settlement import approve_due_commissions, settle_due_commissions
from server.services.programs.commission_rules import create_rule
from tests.order_builders import (
    ADMIN,
    bind,
    commissions_of,
    completed,
    customer,
    line,
    paid,
    promoter,
    send_ok,
    shop,
    unique,
)

BEIJING = ZoneInfo("Asia/Shanghai")
D = Decimal


def beijing(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BEIJING)


async def _referred_shop(**changes: Any) -> tuple[Program, Any, Any]:
    """A program paying one level 10% with no freeze, a promoter and a customer bound to them
    long before the orders."""
    program = await shop(max_levels=1, level_rates=["10"], attribution_window_days=0, **changes)
    seller = await promoter(program)
    buyer = await customer()
    await bind(program, seller, user=buyer, at=datetime(2026, 1, 1, tzinfo=UTC))
    return program, seller, buyer


async def _earned(program: Program, buyer: Any, placed_at: datetime) -> Decimal:
    """What the seller earns on a 100.00 order placed at `placed_at`."""
    external_id = unique("SO")
    await send_ok(program, paid(external_id, line(), buyer=buyer, placed_at=placed_at))
    return sum((c.amount for c in (await commissions_of(program, external_id)).values()), D(0))


async def test_a_daily_cap_holds_for_orders_placed_at_1740_and_2359_beijing_time(db: str) -> None:
    program, _seller, buyer = await _referred_shop()
    await PeriodCapRecord.create(program=program, period="day", amount=D("15.00"))
    afternoon = [await _earned(program, buyer, beijing(2026, 3, 1, 17, 40)) for _ in range(3)]
    assert afternoon == [D("10.00"), D("5.00"), D("0.00")]
    late = [await _earned(program, buyer, beijing(2026, 3, 2, 23, 59)) for _ in range(3)]
    assert late == [D("10.00"), D("5.00"), D("0.00")]
    # 00:30 Beijing time is a new local day, though the same UTC day as 23:59 the day before.
    assert await _earned(program, buyer, beijing(2026, 3, 3, 0, 30)) == D("10.00")
    stored = await Order.filter(program_id=program.id).order_by("id").first()
    assert stored is not None and stored.placed_at == beijing(2026, 3, 1, 17, 40)


async def test_a_daily_cap_spans_utc_midnight_inside_one_beijing_day(db: str) -> None:
    program, _seller, buyer = await _referred_shop()
    await PeriodCapRecord.create(program=program, period="day", amount=D("15.00"))
    # 07:30 and 08:30 Beijing time fall on two UTC days but one local day.
    assert await _earned(program, buyer, beijing(2026, 3, 1, 7, 30)) == D("10.00")
    assert await _earned(program, buyer, beijing(2026, 3, 1, 8, 30)) == D("5.00")


async def _rule_from_beijing_midnight(program: Program) -> int:
    body = RuleCreate.model_validate(
        {
            "kind": "percent",
            "value": "20",
            "valid_from": "2026-03-01T00:00:00+08:00",
            "valid_to": "2026-03-02T00:00:00+08:00",
        }
    )
    record, _currency = await create_rule(
        program_id=program.id, document=body.model_dump(exclude_unset=True), actor=ADMIN
    )
    return record.id


async def _dry_run(program: Program, buyer: Any, placed_at: datetime) -> dict[str, Any]:
    body = PreviewOrder.model_validate(
        {
            "lines": [
                {"product_id": "SKU-1", "quantity": 1, "unit_price": "100.00", "amount": "100.00"}
            ],
            "placed_at": placed_at.isoformat(),
            "customer_user_id": buyer.id,
        }
    )
    return await preview_order(program_id=program.id, document=body.model_dump())


async def test_a_rule_valid_from_beijing_midnight_applies_from_that_instant(db: str) -> None:
    program, _seller, buyer = await _referred_shop()
    rule_id = await _rule_from_beijing_midnight(program)
    for placed_at, expected_rule, expected in (
        (beijing(2026, 2, 28, 23, 30), None, "10.00"),
        (beijing(2026, 3, 1, 0, 30), rule_id, "20.00"),
        (beijing(2026, 3, 1, 23, 30), rule_id, "20.00"),
        (beijing(2026, 3, 2, 0, 30), None, "10.00"),
    ):
        external_id = unique("SO")
        dry_run = await _dry_run(program, buyer, placed_at)
        await send_ok(program, paid(external_id, line(), buyer=buyer, placed_at=placed_at))
        [commission] = (await commissions_of(program, external_id)).values()
        [previewed] = dry_run["lines"]
        assert (str(commission.amount), previewed["amount"]) == (expected, expected), placed_at
        rule = (commission.explanation or {}).get("rule") or {}
        assert rule.get("id") == expected_rule, placed_at
        assert (previewed["rule"] or {}).get("id") == expected_rule, placed_at


async def _settle(now: datetime) -> None:
    await approve_due_commissions(now=now)
    await settle_due_commissions(now=now)


async def test_a_commission_unlocks_exactly_freeze_days_after_completion(db: str) -> None:
    program, _seller, buyer = await _referred_shop(freeze_days=7)
    await Program.filter(id=program.id).update(auto_approve_rules={"enabled": True})
    placed_at = beijing(2026, 3, 1, 20, 0)
    await send_ok(program, paid("SO-1", line(), buyer=buyer, placed_at=placed_at))
    # 07:00 Beijing time is 23:00 UTC the day before.
    completed_at = beijing(2026, 3, 5, 7, 0)
    await send_ok(program, completed("SO-1", at=completed_at))
    [commission] = (await commissions_of(program, "SO-1")).values()
    unlock_at = datetime(2026, 3, 11, 23, 0, tzinfo=UTC)
    assert commission.unlock_at == unlock_at
    await _settle(unlock_at - timedelta(seconds=1))
    assert (await Commission.get(id=commission.id)).status == "pending"
    await _settle(unlock_at)
    assert (await Commission.get(id=commission.id)).status == "settled"


async def test_an_order_completed_now_in_beijing_time_settles_now_without_freeze(
    db: str,
) -> None:
    program, _seller, buyer = await _referred_shop(freeze_days=0)
    await Program.filter(id=program.id).update(auto_approve_rules={"enabled": True})
    now = clock.now()
    await send_ok(program, paid("SO-1", line(), buyer=buyer, placed_at=now - timedelta(hours=1)))
    await send_ok(program, completed("SO-1", at=now.astimezone(BEIJING)))
    await _settle(clock.now())
    [commission] = (await commissions_of(program, "SO-1")).values()
    assert commission.status == "settled"
