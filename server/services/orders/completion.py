"""Completing paid orders the store never reported completed: by staff, or by the job."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from server import clock
from server.auth import Principal
from server.domain.errors import Conflict, NotFound
from server.domain.orders.events import OrderStatus
from server.domain.payouts.withdrawals import check_reason
from server.models import Order, OrderLock, Program
from server.services.access.audit import record_action
from server.services.orders.lifecycle import complete_order

AUTO_COMPLETE_BATCH = 200


async def _locked_order(conn: BaseDBAsyncClient, order_id: int) -> Order | None:
    """The order, read after taking its OrderLock row as every store event does first, so a
    completion and the order's events apply one after the other."""
    found = await Order.filter(id=order_id).using_db(conn).values("program_id", "external_id")
    if not found:
        return None
    await (
        OrderLock.filter(program_id=found[0]["program_id"], external_id=found[0]["external_id"])
        .using_db(conn)
        .select_for_update()
        .values_list("id", flat=True)
    )
    return await Order.filter(id=order_id).using_db(conn).first()


def _not_completable(order: Order) -> Conflict:
    return Conflict(
        "only a paid order that is not completed, cancelled or refunded can be completed",
        code="order_not_completable",
        fields={"status": order.status},
    )


async def complete_order_by_hand(
    *,
    order_id: int,
    reason: str,
    actor: Principal,
    request_id: str | None = None,
) -> dict[str, Any]:
    """Complete a paid order now, as order.completed would (staff, with a reason; audited)."""
    note = check_reason(reason)
    async with in_transaction() as conn:
        order = await _locked_order(conn, order_id)
        if order is None:
            raise NotFound("no such order", code="order_not_found")
        if order.status != OrderStatus.PAID:
            raise _not_completable(order)
        program = await Program.get(id=order.program_id, using_db=conn)  # type: ignore[attr-defined]
        effects = await complete_order(
            conn=conn, program=program, order=order, completed_at=clock.now()
        )
        await record_action(
            actor=actor,
            action="order.complete",
            target_kind="order",
            target_id=order.id,
            program_id=program.id,
            details={"external_id": order.external_id, "reason": note, **effects},
            request_id=request_id,
            using_db=conn,
        )
    return {**effects, "completed_at": order.completed_at.isoformat()}  # type: ignore[union-attr]


async def _auto_complete(program: Program, order_id: int, completed_at: datetime) -> bool:
    async with in_transaction() as conn:
        order = await _locked_order(conn, order_id)
        if order is None or order.status != OrderStatus.PAID:
            return False  # refunded, cancelled or completed since it was picked
        effects = await complete_order(
            conn=conn, program=program, order=order, completed_at=completed_at
        )
        await record_action(
            actor=None,
            action="order.auto_complete",
            target_kind="order",
            target_id=order.id,
            program_id=program.id,
            details={"external_id": order.external_id, **effects},
            using_db=conn,
        )
    return True


async def complete_due_orders(
    *, now: datetime, batch_size: int = AUTO_COMPLETE_BATCH
) -> dict[str, Any]:
    """Complete each paid order whose program's auto_complete_days have passed since payment,
    at paid_at + auto_complete_days: the moment the store's order.completed was due."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    completed = 0
    programs = await Program.filter(auto_complete_days__isnull=False).order_by("id")
    for program in programs:
        days = timedelta(days=program.auto_complete_days or 0)
        while True:
            # In the order of the (program_id, status, paid_at) index; every order picked
            # leaves `paid` (completed here, or refunded or cancelled meanwhile).
            due = (
                await Order.filter(
                    program_id=program.id,
                    status=OrderStatus.PAID.value,
                    paid_at__lte=now - days,
                )
                .order_by("paid_at", "id")
                .limit(batch_size)
                .values_list("id", "paid_at")
            )
            done = 0
            for order_id, paid_at in due:
                done += await _auto_complete(program, order_id, paid_at + days)
            completed += done
            if len(due) < batch_size or done == 0:
                break
    return {"completed": completed, "programs": len(programs), "now": now.isoformat()}
