"""order.paid reads a program's configuration from a per-worker cache and writes its rows in
multi-row statements: a change of the program, its rules or its caps applies to the very
next order, and concurrent orders never mix up their lines, commissions and history."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from server.models import Commission, CommissionChange, OrderLine
from server.services.orders import paid as orders_paid
from server.services.programs.commission_rules import create_rule, set_rule_enabled
from server.services.programs.period_caps import create_cap, set_cap_enabled
from server.services.programs.settings import update_program
from tests.order_builders import (
    ADMIN,
    amounts_of,
    bind,
    chain,
    customer,
    line,
    order_of,
    paid,
    promoter,
    send,
    send_ok,
    shop,
)

pytestmark = pytest.mark.usefixtures("db")
D = Decimal


async def test_a_new_level_rate_applies_to_the_next_order() -> None:
    program = await shop()
    _top, nearest = await chain(program, 2)
    buyer = await customer()
    await bind(program, nearest, user=buyer)
    await send_ok(program, paid("O-1", line("A", "100.00"), buyer=buyer))

    await update_program(program_id=program.id, changes={"level_rates": ["20", "5"]}, actor=ADMIN)
    await send_ok(program, paid("O-2", line("A", "100.00"), buyer=buyer))

    assert await amounts_of(program, "O-1") == {("A", 1): D("10.00"), ("A", 2): D("5.00")}
    assert await amounts_of(program, "O-2") == {("A", 1): D("20.00"), ("A", 2): D("5.00")}


async def test_a_rule_added_then_disabled_applies_from_the_next_order() -> None:
    program = await shop()
    _top, nearest = await chain(program, 2)
    buyer = await customer()
    await bind(program, nearest, user=buyer)
    await send_ok(program, paid("O-1", line("A", "100.00", product_id="SKU-HOT"), buyer=buyer))

    rule, _currency = await create_rule(
        program_id=program.id,
        document={"kind": "percent", "value": "30", "level": 1, "product_id": "SKU-HOT"},
        actor=ADMIN,
    )
    await send_ok(program, paid("O-2", line("A", "100.00", product_id="SKU-HOT"), buyer=buyer))
    await set_rule_enabled(rule_id=rule.id, enabled=False, actor=ADMIN)
    await send_ok(program, paid("O-3", line("A", "100.00", product_id="SKU-HOT"), buyer=buyer))

    level_one = {
        external_id: (await amounts_of(program, external_id))[("A", 1)]
        for external_id in ("O-1", "O-2", "O-3")
    }
    assert level_one == {"O-1": D("10.00"), "O-2": D("30.00"), "O-3": D("10.00")}


async def test_a_period_cap_added_then_disabled_applies_from_the_next_order() -> None:
    program = await shop(level_rates=["10", "0"])
    alice = await promoter(program)
    buyer = await customer()
    await bind(program, alice, user=buyer)
    await send_ok(program, paid("O-1", line("A", "100.00"), buyer=buyer))

    cap, _currency = await create_cap(
        program_id=program.id, document={"period": "month", "amount": "15.00"}, actor=ADMIN
    )
    await send_ok(program, paid("O-2", line("A", "100.00"), buyer=buyer))
    await set_cap_enabled(cap_id=cap.id, enabled=False, actor=ADMIN)
    await send_ok(program, paid("O-3", line("A", "100.00"), buyer=buyer))

    level_one = {
        external_id: (await amounts_of(program, external_id))[("A", 1)]
        for external_id in ("O-1", "O-2", "O-3")
    }
    # The cap leaves 15.00 - 10.00 of the month to O-2; without it O-3 earns in full.
    assert level_one == {"O-1": D("10.00"), "O-2": D("5.00"), "O-3": D("10.00")}


async def test_concurrent_orders_keep_their_own_lines_commissions_and_history() -> None:
    await _concurrent_orders_stay_whole()


async def _concurrent_orders_stay_whole() -> None:
    program = await shop()
    _top, nearest = await chain(program, 2)
    buyers = [await customer() for _ in range(6)]
    for buyer in buyers:
        await bind(program, nearest, user=buyer)

    outcomes = await asyncio.gather(
        *(
            send(
                program,
                paid(
                    f"O-{index}",
                    line("A", f"{10 + index}.00"),
                    line("B", f"{20 + index}.00"),
                    buyer=buyer,
                ),
            )
            for index, buyer in enumerate(buyers)
        )
    )

    assert [outcome.outcome.status_code for outcome in outcomes] == [200] * len(buyers)
    for index in range(len(buyers)):
        order = await order_of(program, f"O-{index}")
        lines = {row.id: row for row in await OrderLine.filter(order_id=order.id)}
        commissions = await Commission.filter(order_id=order.id)
        assert len(commissions) == 4
        for commission in commissions:
            order_line = lines[commission.order_line_id]  # type: ignore[attr-defined]
            assert commission.line_amount == order_line.amount
            history = await CommissionChange.filter(commission_id=commission.id)
            assert [(change.action, change.amount_after) for change in history] == [
                ("created", commission.amount)
            ]
        assert {row.line_ref: row.amount for row in lines.values()} == {
            "A": D(f"{10 + index}.00"),
            "B": D(f"{20 + index}.00"),
        }


async def test_with_interleaved_auto_increment_ids_are_read_back_and_orders_stay_whole(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # As on MySQL with innodb_autoinc_lock_mode = 2: a multi-row insert's ids are not known.
    async def unknown(*_args: object) -> None:
        return None

    monkeypatch.setattr(orders_paid, "inserted_ids", unknown)
    await _concurrent_orders_stay_whole()
