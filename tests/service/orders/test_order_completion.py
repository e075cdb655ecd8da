"""Orders completed without the store's order.completed: by the auto-completion job, N days
after payment, or by staff by hand — each exactly as the store's event would."""

from __future__ import annotations

from datetime import timedelta

import pytest

from server import clock
from server.auth import Principal
from server.domain.errors import Conflict, NotFound
from server.models import AuditLog, Commission, Program
from server.services.orders.completion import complete_due_orders, complete_order_by_hand
from tests.order_builders import (
    T0,
    bind,
    cancelled,
    chain,
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
STAFF = Principal(kind="staff", id=7, roles=frozenset({"staff"}))
DAYS = 14
FREEZE = 7


async def _program_with_sales(*orders: str, **settings: object) -> Program:
    """A program (7 freeze days) whose bound customer paid each of `orders` at T0."""
    program = await shop(**settings)
    _top, nearest = await chain(program, 2)
    buyer = await customer()
    await bind(program, nearest, user=buyer)
    for external_id in orders:
        await send_ok(program, paid(external_id, line("A", "100.00"), buyer=buyer))
    return program


async def _unlocks(program: Program, external_id: str) -> set[object]:
    order = await order_of(program, external_id)
    return {c.unlock_at for c in await Commission.filter(order_id=order.id)}


async def test_the_job_completes_a_paid_order_n_days_after_payment_as_the_store_would() -> None:
    program = await _program_with_sales("O-auto", "O-store", auto_complete_days=DAYS)
    due = T0 + timedelta(days=DAYS)
    # The store reports one order completed at the very moment the other one falls due.
    await send_ok(program, completed("O-store", at=due))

    early = await complete_due_orders(now=due - timedelta(seconds=1))
    on_time = await complete_due_orders(now=due)
    again = await complete_due_orders(now=due + timedelta(days=1))

    assert (early["completed"], on_time["completed"], again["completed"]) == (0, 1, 0)
    auto = await order_of(program, "O-auto")
    assert (auto.status, auto.completed_at) == ("completed", due)
    assert await _unlocks(program, "O-auto") == {due + timedelta(days=FREEZE)}
    assert await _unlocks(program, "O-auto") == await _unlocks(program, "O-store")
    (entry,) = await AuditLog.filter(action="order.auto_complete")
    assert (entry.actor_kind, entry.target_id) == ("system", auto.id)


async def test_the_job_leaves_refunded_cancelled_and_unconfigured_orders_alone() -> None:
    program = await _program_with_sales(
        "O-refunded", "O-cancelled", "O-partly", auto_complete_days=3
    )
    await send_ok(program, refunded("O-refunded", full=True))
    await send_ok(program, cancelled("O-cancelled"))
    await send_ok(program, refunded("O-partly", amount="40.00"))
    elsewhere = await _program_with_sales("O-manual-store")  # auto_complete_days off

    summary = await complete_due_orders(now=T0 + timedelta(days=30))

    assert summary["completed"] == 1
    statuses = {
        external_id: (await order_of(program, external_id)).status
        for external_id in ("O-refunded", "O-cancelled", "O-partly")
    }
    assert statuses == {
        "O-refunded": "refunded",
        "O-cancelled": "cancelled",
        "O-partly": "completed",
    }
    assert (await order_of(elsewhere, "O-manual-store")).status == "paid"
    assert await _unlocks(program, "O-cancelled") == {None}


async def test_the_job_works_through_more_due_orders_than_one_batch() -> None:
    names = [f"O-{n}" for n in range(5)]
    program = await _program_with_sales(*names, auto_complete_days=1)

    summary = await complete_due_orders(now=T0 + timedelta(days=2), batch_size=2)

    assert summary["completed"] == 5
    assert {(await order_of(program, name)).status for name in names} == {"completed"}


async def test_staff_complete_a_paid_order_by_hand_and_the_store_cannot_complete_it_again() -> None:
    program = await _program_with_sales("O-hand")
    before = clock.now()

    done = await complete_order_by_hand(
        order_id=(await order_of(program, "O-hand")).id,
        reason="delivered; the store's webhook failed",
        actor=STAFF,
        request_id="req-1",
    )
    late_event = await send(program, completed("O-hand", at=T0 + timedelta(days=40)))

    order = await order_of(program, "O-hand")
    assert order.status == "completed" and order.completed_at is not None
    assert before <= order.completed_at <= clock.now()
    assert done["completed_at"] == order.completed_at.isoformat()
    assert await _unlocks(program, "O-hand") == {order.completed_at + timedelta(days=FREEZE)}
    assert late_event.outcome.status_code == 409
    (entry,) = await AuditLog.filter(action="order.complete")
    assert (entry.actor_kind, entry.actor_id, entry.target_id) == ("staff", STAFF.id, order.id)
    assert entry.details["reason"] == "delivered; the store's webhook failed"
    assert entry.request_id == "req-1"


@pytest.mark.parametrize("ending", ["cancelled", "completed", "refunded"])
async def test_an_order_that_is_not_paid_and_open_cannot_be_completed_by_hand(
    ending: str,
) -> None:
    program = await _program_with_sales("O-over")
    events = {
        "cancelled": cancelled("O-over"),
        "completed": completed("O-over"),
        "refunded": refunded("O-over", full=True),
    }
    await send_ok(program, events[ending])

    with pytest.raises(Conflict) as refused:
        await complete_order_by_hand(
            order_id=(await order_of(program, "O-over")).id, reason="done", actor=STAFF
        )

    assert refused.value.code == "order_not_completable"
    assert refused.value.fields == {"status": ending}
    assert await AuditLog.filter(action="order.complete").count() == 0


async def test_completing_an_unknown_order_is_not_found() -> None:
    with pytest.raises(NotFound) as missing:
        await complete_order_by_hand(order_id=999_999, reason="done", actor=STAFF)
    assert missing.value.code == "order_not_found"
