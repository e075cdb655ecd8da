"""order.paid: the order, its lines, who it is attributed to and why, and its commissions —
written for one event or a drainer's batch with one multi-row INSERT per table.
Runs inside the events' transaction (the caller holds the orders' locks).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError

from server import clock
from server.domain.commissions.lines import CommissionLine
from server.domain.commissions.status import CommissionStatus
from server.domain.money import round_down
from server.domain.orders.events import IncomingEvent, order_exists
from server.domain.orders.refunds import snapshot_of as commission_snapshot
from server.models import Commission, CommissionChange, Order, OrderLine, Program
from server.services.fraud import inline as fraud_inline
from server.services.ledger.postings import sql_rows
from server.services.orders.paid_plan import PaidItem, PaidPlan, plan_paid_orders
from server.services.orders.writes import insert_rows, inserted_ids
from server.services.programs.cache import ProgramConfig
from server.services.webhooks.outbox import record_commissions_created

CREATED_REASON = "order paid"


def _upline_snapshot(line: CommissionLine) -> list[dict[str, Any]]:
    chain = line.explanation.get("chain", [])
    return [member for member in chain if int(member.get("level", -1)) > line.level]


def _commission_row(
    *, program: Program, order_id: int, line_id: int, line: CommissionLine
) -> dict[str, Any]:
    return dict(
        program_id=program.id,
        order_id=order_id,
        order_line_id=line_id,
        promoter_id=line.promoter_id,
        level=line.level,
        currency=line.currency,
        status=CommissionStatus.PENDING.value,
        kind=line.kind,
        rate=line.rate,
        # The column keeps cents for display; the snapshot keeps the exact figure.
        fixed_per_unit=(
            round_down(line.fixed_per_unit, line.currency)
            if line.fixed_per_unit is not None
            else None
        ),
        quantity=line.quantity,
        line_amount=line.line_amount,
        base_amount=line.base,
        rule_id=line.rule_id,
        rule_source=line.rule_source,
        amount=line.amount,
        original_amount=line.amount,
        snapshot=commission_snapshot(line),
        explanation=line.explanation,
        upline_snapshot=_upline_snapshot(line),
        freeze_days=line.freeze_days,
        auto_approve=line.auto_approve,
        rule_set_version=line.rule_set_version,
    )


async def _line_ids(
    conn: BaseDBAsyncClient, plans: list[PaidPlan], order_ids: list[int], insert_id: int
) -> dict[tuple[int, str], int]:
    """(order id, line ref) → line id of the lines one multi-row INSERT wrote."""
    keys = [
        (order_id, line.line_ref)
        for plan, order_id in zip(plans, order_ids, strict=True)
        for line in plan.item.paid.lines
    ]
    ids = await inserted_ids(conn, insert_id, len(keys))
    if ids is not None:
        return dict(zip(keys, ids, strict=True))
    rows = await sql_rows(
        conn,
        "SELECT id, order_id, line_ref FROM order_lines"
        f" WHERE order_id IN ({', '.join('?' for _ in order_ids)})",
        order_ids,
    )
    return {(int(row["order_id"]), row["line_ref"]): int(row["id"]) for row in rows}


async def _commission_ids(
    conn: BaseDBAsyncClient, rows: list[dict[str, Any]], insert_id: int
) -> list[int]:
    ids = await inserted_ids(conn, insert_id, len(rows))
    if ids is not None:
        return ids
    order_ids = sorted({row["order_id"] for row in rows})
    found = await sql_rows(
        conn,
        "SELECT id, order_line_id, level FROM commissions"
        f" WHERE order_id IN ({', '.join('?' for _ in order_ids)})",
        order_ids,
    )
    by_key = {(int(row["order_line_id"]), int(row["level"])): int(row["id"]) for row in found}
    return [by_key[(row["order_line_id"], row["level"])] for row in rows]


async def _order_ids(conn: BaseDBAsyncClient, plans: list[PaidPlan], insert_id: int) -> list[int]:
    ids = await inserted_ids(conn, insert_id, len(plans))
    if ids is not None:
        return ids
    keys = [(plan.item.config.program.id, plan.item.paid.external_id) for plan in plans]
    programs, externals = sorted({k[0] for k in keys}), sorted({k[1] for k in keys})
    rows = await sql_rows(
        conn,
        f"SELECT id, program_id, external_id FROM orders WHERE program_id IN"
        f" ({', '.join('?' for _ in programs)})"
        f" AND external_id IN ({', '.join('?' for _ in externals)})",
        [*programs, *externals],
    )
    found = {(int(row["program_id"]), row["external_id"]): int(row["id"]) for row in rows}
    return [found[key] for key in keys]


async def write_paid_orders(*, conn: BaseDBAsyncClient, plans: list[PaidPlan]) -> list[Order]:
    """The orders, their lines, commissions and `created` history: a multi-row INSERT each."""
    # Ids come from the inserts where the database guarantees them, else from plain reads by
    # unique key: an INSERT … SELECT would take shared next-key locks on the order's commission
    # range, which deadlock with the next order's inserts on MySQL.
    try:
        insert_id = await insert_rows(conn, Order, [plan.columns for plan in plans])
    except IntegrityError:
        # The unique (program, external id) decides; the caller holds the orders' locks.
        raise order_exists(plans[0].item.paid.external_id) from None
    order_ids = await _order_ids(conn, plans, insert_id)
    orders = []
    for plan, order_id in zip(plans, order_ids, strict=True):
        order = Order(id=order_id, **plan.columns)
        order._saved_in_db = True
        orders.append(order)
    insert_id = await insert_rows(
        conn,
        OrderLine,
        [
            {
                "order_id": order_id,
                "line_ref": line.line_ref,
                "product_id": line.product_id,
                "category": line.category,
                "quantity": line.quantity,
                "unit_price": line.unit_price,
                "amount": line.amount,
                "refunded_amount": Decimal(0),
            }
            for plan, order_id in zip(plans, order_ids, strict=True)
            for line in plan.item.paid.lines
        ],
    )
    payable = [
        (plan, order_id, line)
        for plan, order_id in zip(plans, order_ids, strict=True)
        for line in plan.evaluation.payable
    ]
    if not payable:
        return orders
    line_ids = await _line_ids(conn, plans, order_ids, insert_id)
    rows = [
        _commission_row(
            program=plan.item.config.program,
            order_id=order_id,
            line_id=line_ids[(order_id, line.line_id)],
            line=line,
        )
        for plan, order_id, line in payable
    ]
    commission_ids = await _commission_ids(conn, rows, await insert_rows(conn, Commission, rows))
    await record_commissions_created(commission_ids, conn=conn)
    now = clock.now()
    await insert_rows(
        conn,
        CommissionChange,
        [
            {
                "commission_id": commission_id,
                "action": "created",
                "from_status": None,
                "to_status": CommissionStatus.PENDING.value,
                "amount_before": Decimal(0),
                "amount_after": row["amount"],
                "reason": CREATED_REASON,
                "order_event_id": plan.item.event_row_id,
                "actor_kind": "system",
                "actor_id": None,
                "at": now,
            }
            for commission_id, row, (plan, _order_id, _line) in zip(
                commission_ids, rows, payable, strict=True
            )
        ],
    )
    return orders


def paid_effects(plan: PaidPlan, order: Order) -> dict[str, Any]:
    """What an applied order.paid answers (before any held events)."""
    total = sum((line.amount for line in plan.evaluation.payable), Decimal(0))
    return {
        "order": {"id": order.id, "status": order.status},
        "attribution": {
            "chain": plan.evidence["chain"],
            "reason": plan.evidence["reason"],
            "source": ("self_purchase" if plan.buyer_promoter else plan.attribution.source.value),
        },
        "commissions": {"count": len(plan.evaluation.payable), "total": str(total)},
    }


async def screen_paid_orders(
    *, conn: BaseDBAsyncClient, plans: list[PaidPlan], orders: list[Order]
) -> None:
    """Inline fraud rules: an obviously fraudulent commission is held in this transaction."""
    await fraud_inline.screen_paid_orders(
        conn=conn,
        orders=[
            fraud_inline.PaidOrder(
                program=plan.item.config.program,
                order=order,
                user=plan.user,
                buyer_promoter=plan.buyer_promoter,
                attribution=plan.attribution,
                evaluation=plan.evaluation,
            )
            for plan, order in zip(plans, orders, strict=True)
        ],
    )


async def apply_paid(
    *,
    conn: BaseDBAsyncClient,
    config: ProgramConfig,
    event: IncomingEvent,
    event_row_id: int,
    appid: str,
) -> tuple[Order, dict[str, Any]]:
    """Create the paid order with its lines, attribution and commissions."""
    plans = await plan_paid_orders(
        items=[PaidItem(config=config, event=event, event_row_id=event_row_id)],
        appid=appid,
        conn=conn,
    )
    orders = await write_paid_orders(conn=conn, plans=plans)
    await screen_paid_orders(conn=conn, plans=plans, orders=orders)
    return orders[0], paid_effects(plans[0], orders[0])
