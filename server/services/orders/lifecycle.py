"""order.completed (starts the commissions' freeze window) and order.cancelled, inside the
event's transaction and under the order lock.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from server.domain.commissions.status import UNSETTLED_STATUSES
from server.domain.orders.events import (
    IncomingEvent,
    OrderCompleted,
    order_transition,
)
from server.domain.orders.refunds import commission_after_cancel
from server.models import Commission, Order, Program
from server.services.orders.refund import apply_commission_move, locked_commissions

CANCEL_REASON = "order cancelled"


async def apply_completed(
    *, conn: BaseDBAsyncClient, program: Program, order: Order, event: IncomingEvent
) -> dict[str, Any]:
    """Mark the order completed and start its commissions' freeze period."""
    completed = event.order
    assert isinstance(completed, OrderCompleted)
    return await complete_order(
        conn=conn, program=program, order=order, completed_at=completed.completed_at
    )


async def complete_order(
    *, conn: BaseDBAsyncClient, program: Program, order: Order, completed_at: datetime
) -> dict[str, Any]:
    """Complete `order` at `completed_at`, exactly as order.completed does (order locked)."""
    order.status = order_transition(order.status, "complete").value
    order.completed_at = completed_at
    await order.save(using_db=conn, update_fields=["status", "completed_at", "updated_at"])
    unlock_at = completed_at + timedelta(days=program.freeze_days)
    unsettled = [status.value for status in UNSETTLED_STATUSES]
    # Updated by primary key: an UPDATE through the order index would also lock the gap
    # after the order's rows and stall the next orders' inserts until this commits.
    rows = await (
        Commission.filter(order_id=order.id, status__in=unsettled)
        .using_db(conn)
        .values_list("id", "freeze_days")
    )
    # A tier's shorter freeze (recorded on the commission at order time) ends it sooner.
    by_unlock: dict[datetime, list[int]] = {}
    for commission_id, freeze_days in rows:
        days = program.freeze_days if freeze_days is None else min(freeze_days, program.freeze_days)
        by_unlock.setdefault(completed_at + timedelta(days=days), []).append(commission_id)
    unlocking = 0
    for at, ids in sorted(by_unlock.items()):
        unlocking += await (
            Commission.filter(id__in=ids, status__in=unsettled).using_db(conn).update(unlock_at=at)
        )
    return {
        "order": {"id": order.id, "status": order.status},
        "commissions": {"unlock_at": unlock_at.isoformat(), "count": unlocking},
    }


async def apply_cancelled(
    *, conn: BaseDBAsyncClient, order: Order, event: IncomingEvent, event_row_id: int
) -> dict[str, Any]:
    """Cancel a paid order: reject its commissions (claw back any already credited)."""
    order.status = order_transition(order.status, "cancel").value
    order.cancelled_at = event.occurred_at
    rejected = reversed_count = 0
    clawed_total = Decimal(0)
    for commission in await locked_commissions(conn=conn, order_id=order.id):
        move = commission_after_cancel(status=commission.status, amount=commission.amount)
        if move is None:
            continue
        clawed_total += await apply_commission_move(
            conn=conn,
            commission=commission,
            move=move,
            event_row_id=event_row_id,
            reason=CANCEL_REASON,
        )
        if move.status_after == "rejected":
            rejected += 1
        else:
            reversed_count += 1
    await order.save(using_db=conn, update_fields=["status", "cancelled_at", "updated_at"])
    return {
        "order": {"id": order.id, "status": order.status},
        "commissions": {
            "rejected": rejected,
            "reversed": reversed_count,
            "clawed_back": str(clawed_total),
        },
    }
