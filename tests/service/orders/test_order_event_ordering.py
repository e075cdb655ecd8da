"""Events out of order, replays, and concurrent deliveries."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pymysql
import pytest
from tortoise.exceptions import OperationalError

from server.db import is_lock_conflict
from server.domain.errors import Conflict
from server.models import Commission, Order, OrderEvent, OrderLine
from tests.order_builders import (
    amounts_of,
    bind,
    cancelled,
    chain,
    commissions_of,
    completed,
    customer,
    line,
    order_of,
    paid,
    refunded,
    send,
    send_ok,
    shop,
)

pytestmark = pytest.mark.usefixtures("db")
D = Decimal


async def test_a_refund_before_its_order_is_paid_is_held_then_applied_with_the_paid_event() -> None:
    program = await shop()
    (nearest,) = await chain(program, 1)
    buyer = await customer()
    await bind(program, nearest, user=buyer)
    refund = refunded("O-1", lines={"A": "40.00"})

    held = await send(program, refund)

    assert held.outcome.status_code == 202
    assert (held.outcome.body["status"], held.outcome.body["code"]) == (
        "pending",
        "event_pending_until_paid",
    )
    assert await Order.all().count() == 0
    assert (await OrderEvent.get(event_id=refund["event_id"])).status == "pending"

    outcome = await send_ok(program, paid("O-1", line("A", "100.00"), buyer=buyer))

    assert [(e["event_id"], e["type"], e["status"]) for e in outcome["held_events"]] == [
        (refund["event_id"], "order.refunded", "applied")
    ]
    assert await amounts_of(program, "O-1") == {("A", 1): D("6.00")}
    assert (await OrderLine.get(line_ref="A")).refunded_amount == D("40.00")
    # A replay of the held event now answers what applying it gave.
    replay = await send(program, refund)
    assert replay.replayed and replay.outcome.status_code == 200
    assert replay.outcome.body["refunded"] == {"A": "40.00"}


async def test_held_events_apply_in_the_order_received_each_with_its_own_outcome() -> None:
    program = await shop()
    (nearest,) = await chain(program, 1)
    buyer = await customer()
    await bind(program, nearest, user=buyer)
    too_big = refunded("O-2", lines={"A": "500.00"})
    done = completed("O-2")
    cancel = cancelled("O-2")
    for body in (too_big, done, cancel):
        assert (await send(program, body)).outcome.status_code == 202

    outcome = await send_ok(program, paid("O-2", line("A", "100.00"), buyer=buyer))

    assert [(e["type"], e["status"], e["code"]) for e in outcome["held_events"]] == [
        ("order.refunded", "rejected", "refund_exceeds_line"),
        ("order.completed", "applied", None),
        ("order.cancelled", "rejected", "order_completed"),
    ]
    order = await order_of(program, "O-2")
    assert (order.status, order.refunded_amount) == ("completed", D("0.00"))
    assert {c.status for c in (await commissions_of(program, "O-2")).values()} == {"pending"}
    statuses = {e.event_id: (e.status, e.error_code) for e in await OrderEvent.all()}
    assert statuses[cancel["event_id"]] == ("rejected", "order_completed")
    assert (await send(program, cancel)).outcome.status_code == 409


async def test_a_replayed_event_returns_the_first_outcome_and_applies_nothing_again() -> None:
    program = await shop()
    (nearest,) = await chain(program, 1)
    buyer = await customer()
    await bind(program, nearest, user=buyer)
    body = paid("O-3", line("A", "100.00"), buyer=buyer)
    refund = refunded("O-3", lines={"A": "10.00"})

    first = await send(program, body)
    refund_first = await send(program, refund)
    again = await send(program, body)
    refund_again = await send(program, refund)

    assert (first.replayed, again.replayed, refund_again.replayed) == (False, True, True)
    assert again.outcome == first.outcome and refund_again.outcome == refund_first.outcome
    assert await Commission.all().count() == 1
    assert await amounts_of(program, "O-3") == {("A", 1): D("9.00")}


async def test_the_same_event_id_with_another_body_is_a_conflict() -> None:
    program = await shop()
    body = paid("O-4", line("A", "100.00"), event_id="evt-same")
    await send_ok(program, body)

    with pytest.raises(Conflict) as refused:
        await send(program, paid("O-4", line("A", "100.01"), event_id="evt-same"))

    assert refused.value.code == "event_id_conflict"
    assert (await order_of(program, "O-4")).total_amount == D("100.00")


async def test_event_ids_are_per_program() -> None:
    first, second = await shop(), await shop()
    await send_ok(first, paid("O-5", event_id="evt-shared"))
    await send_ok(second, paid("O-5", event_id="evt-shared"))
    assert await Order.all().count() == 2


@pytest.mark.mysql
async def test_concurrent_deliveries_of_one_event_apply_it_once() -> None:
    program = await shop()
    _top, nearest = await chain(program, 2)
    buyer = await customer()
    await bind(program, nearest, user=buyer)
    body = paid("O-6", line("A", "100.00"), line("B", "50.00"), buyer=buyer)

    results = await asyncio.gather(*(send(program, body) for _ in range(8)))

    assert sum(not r.replayed for r in results) == 1
    assert {r.outcome.status_code for r in results} == {200}
    assert all(r.outcome == results[0].outcome for r in results)
    assert await Order.all().count() == 1 and await Commission.all().count() == 4
    assert await OrderEvent.all().count() == 1


@pytest.mark.mysql
async def test_a_refund_racing_its_paid_event_is_applied_whichever_commits_first() -> None:
    program = await shop()
    (nearest,) = await chain(program, 1)
    buyers = [await customer() for _ in range(6)]
    for buyer in buyers:
        await bind(program, nearest, user=buyer)

    await asyncio.gather(
        *(
            send(program, body)
            for index, buyer in enumerate(buyers)
            for body in (
                refunded(f"R-{index}", lines={"A": "25.00"}),
                paid(f"R-{index}", line("A", "100.00"), buyer=buyer),
            )
        )
    )

    assert await OrderEvent.filter(status="pending").count() == 0
    for index in range(len(buyers)):
        assert await amounts_of(program, f"R-{index}") == {("A", 1): D("7.50")}


@pytest.mark.mysql
async def test_concurrent_paid_events_of_many_orders_all_apply() -> None:
    program = await shop()
    _top, nearest = await chain(program, 2)
    buyer = await customer()
    await bind(program, nearest, user=buyer)

    results = await asyncio.gather(
        *(send(program, paid(f"M-{i}", line("A", "10.00"), buyer=buyer)) for i in range(24))
    )

    assert [r.outcome.status_code for r in results] == [200] * 24
    assert await Commission.filter(promoter_id=nearest.id).count() == 24


async def test_an_event_only_ever_reaches_the_order_of_its_own_program() -> None:
    mine, theirs = await shop(), await shop()
    await send_ok(mine, paid("O-7", line("A", "100.00")))

    foreign = await send(theirs, refunded("O-7", lines={"A": "10.00"}))

    assert foreign.outcome.status_code == 202
    assert (await OrderLine.get(line_ref="A")).refunded_amount == D("0.00")


def test_only_a_deadlock_or_a_lock_wait_timeout_makes_an_event_run_again() -> None:
    deadlock = OperationalError(pymysql.err.OperationalError(1213, "Deadlock found"))
    try:
        try:
            raise deadlock
        except OperationalError:
            # What tortoise raises next when the savepoint died with the transaction.
            raise pymysql.err.OperationalError(1305, "SAVEPOINT does not exist") from None
    except pymysql.err.OperationalError as after_rollback:
        after_rollback.__context__ = deadlock
        assert is_lock_conflict(after_rollback)
    assert is_lock_conflict(OperationalError(pymysql.err.OperationalError(1205, "Lock wait")))
    assert not is_lock_conflict(OperationalError(pymysql.err.OperationalError(1062, "Duplicate")))
    assert not is_lock_conflict(ValueError(1213))
