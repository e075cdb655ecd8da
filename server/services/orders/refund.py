"""order.refunded: lines give money back, and every commission on them is recomputed.

Runs inside the event's transaction (server/services/orders/events.py holds the order's lock).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from server.domain.errors import Conflict
from server.domain.orders.events import (
    EventStatus,
    EventType,
    IncomingEvent,
    OrderRefunded,
    ensure_refundable,
    order_transition,
)
from server.domain.orders.refunds import (
    CommissionMove,
    KeptCommission,
    LineBalance,
    line_after_refund,
    line_from_snapshot,
    plan_refund,
    snapshot_of,
)
from server.models import Commission, CommissionChange, Order, OrderEvent, OrderLine
from server.services.ledger import postings as ledger
from server.services.webhooks.outbox import record_clawback


def clawback_reference(event_row_id: int, commission_id: int) -> str:
    """The ledger reference of the clawback one event makes on one commission."""
    return f"order_event:{event_row_id}:commission:{commission_id}:clawback"


async def locked_commissions(
    *, conn: BaseDBAsyncClient, order_id: int, line_ids: list[int] | None = None
) -> list[Commission]:
    """The order's commissions (of `line_ids` when given), locked by key in id order."""
    # Ids first, then locked by key: a locking read through the order index would also lock
    # the gap after it and stall other orders' inserts.
    query = Commission.filter(order_id=order_id)
    if line_ids is not None:
        query = query.filter(order_line_id__in=line_ids)
    ids = await query.using_db(conn).order_by("id").values_list("id", flat=True)
    if not ids:
        return []
    return list(
        await Commission.filter(id__in=list(ids)).using_db(conn).order_by("id").select_for_update()
    )


async def apply_commission_move(
    *,
    conn: BaseDBAsyncClient,
    commission: Commission,
    move: CommissionMove,
    event_row_id: int,
    reason: str,
) -> Decimal:
    """Write what a commission becomes (ledger clawback first) and its history row."""
    clawed = Decimal(0)
    if move.clawback:
        entry = await ledger.clawback_commission(
            conn=conn,
            commission=commission,
            new_amount=move.amount_after,
            reason=reason,
            reference=clawback_reference(event_row_id, commission.id),
        )
        clawed = -entry.amount if entry is not None else Decimal(0)
    changes: dict[str, Any] = {"amount": move.amount_after, "status": move.status_after}
    if move.line is not None:
        changes["snapshot"] = snapshot_of(move.line)
        changes["explanation"] = move.line.explanation
        changes["base_amount"] = move.line.base
    if move.action == "cancel" and move.status_after == "rejected":
        changes["reject_reason"] = reason
    await record_clawback(commission, amount_after=move.amount_after, reason=move.action, conn=conn)
    await Commission.filter(id=commission.id).using_db(conn).update(**changes)
    await CommissionChange.create(
        commission_id=commission.id,
        action=move.action,
        from_status=move.status_before,
        to_status=move.status_after,
        amount_before=move.amount_before,
        amount_after=move.amount_after,
        reason=reason,
        order_event_id=event_row_id,
        actor_kind="system",
        using_db=conn,
    )
    return clawed


async def _ensure_new_refund(*, conn: BaseDBAsyncClient, order: Order, refund_id: str) -> None:
    applied = (
        await OrderEvent.filter(
            program_id=order.program_id,  # type: ignore[attr-defined]
            order_external_id=order.external_id,
            event_type=EventType.REFUNDED.value,
            status=EventStatus.APPLIED.value,
        )
        .using_db(conn)
        .values_list("payload", flat=True)
    )
    if any((payload or {}).get("order", {}).get("refund_id") == refund_id for payload in applied):
        raise Conflict(
            "this refund was already applied under another event id",
            code="refund_exists",
            fields={"order.refund_id": refund_id},
        )


async def apply_refunded(
    *, conn: BaseDBAsyncClient, order: Order, event: IncomingEvent, event_row_id: int
) -> dict[str, Any]:
    """Refund lines of `order` and recompute their commissions."""
    refund = event.order
    assert isinstance(refund, OrderRefunded)
    ensure_refundable(order.status)
    await _ensure_new_refund(conn=conn, order=order, refund_id=refund.refund_id)
    lines = list(await OrderLine.filter(order_id=order.id).using_db(conn).order_by("id"))
    balances = [
        LineBalance(line_ref=line.line_ref, amount=line.amount, refunded=line.refunded_amount)
        for line in lines
    ]
    plan = plan_refund(refund, balances, order.currency)
    touched = [line for line in lines if line.line_ref in plan]
    for line in touched:
        line.refunded_amount += plan[line.line_ref]
        await (
            OrderLine.filter(id=line.id).using_db(conn).update(refunded_amount=line.refunded_amount)
        )
    net_by_line = {line.id: line.amount - line.refunded_amount for line in touched}

    reason = f"refund {refund.refund_id}"
    reversed_total = clawed_total = Decimal(0)
    moved = 0
    locked = await locked_commissions(conn=conn, order_id=order.id, line_ids=list(net_by_line))
    moves: dict[int, CommissionMove | None] = {}
    for line_id, new_net in net_by_line.items():
        on_line = [c for c in locked if c.order_line_id == line_id]  # type: ignore[attr-defined]
        kept = [
            KeptCommission(
                status=c.status,
                amount=c.amount,
                line=line_from_snapshot(c.snapshot, c.explanation),
            )
            for c in on_line
        ]
        for commission, move in zip(on_line, line_after_refund(kept, new_net=new_net), strict=True):
            moves[commission.id] = move
    for commission in locked:
        move = moves[commission.id]
        if move is None:
            continue
        clawed_total += await apply_commission_move(
            conn=conn, commission=commission, move=move, event_row_id=event_row_id, reason=reason
        )
        reversed_total += move.reversal
        moved += 1

    refunded_now = sum(plan.values(), Decimal(0))
    order.refunded_amount += refunded_now
    fields = ["refunded_amount", "updated_at"]
    if all(line.amount == line.refunded_amount for line in lines):
        order.status = order_transition(order.status, "refund_fully").value
        fields.append("status")
    await order.save(using_db=conn, update_fields=fields)
    return {
        "order": {
            "id": order.id,
            "status": order.status,
            "refunded_amount": str(order.refunded_amount),
        },
        "refund_id": refund.refund_id,
        "refunded": {ref: str(amount) for ref, amount in plan.items()},
        "commissions": {
            "recomputed": moved,
            "reversed": str(reversed_total),
            "clawed_back": str(clawed_total),
        },
    }
