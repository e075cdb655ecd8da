"""order.paid: the order, its lines, who it is attributed to and why, and its commissions.

Runs inside the event's transaction (server/services/orders/events.py holds the order's lock).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tortoise import timezone
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError

from server import clock
from server.domain.commissions.calc import OrderEvaluation, evaluate_order
from server.domain.commissions.inputs import OrderLine as EngineLine
from server.domain.commissions.inputs import OrderSnapshot
from server.domain.commissions.lines import CommissionLine
from server.domain.commissions.status import CommissionStatus
from server.domain.errors import ValidationFailed
from server.domain.money import round_down
from server.domain.orders.events import (
    IncomingEvent,
    OrderPaid,
    OrderStatus,
    currency_mismatch,
    order_exists,
)
from server.domain.orders.refunds import snapshot_of as commission_snapshot
from server.models import Commission, CommissionChange, Order, OrderLine, Program, Site
from server.services.fraud import inline as fraud_inline
from server.services.ledger.postings import sql_rows
from server.services.orders.paid_inputs import find_buyer_and_profile, paid_order_inputs
from server.services.orders.writes import insert_rows, inserted_ids
from server.services.programs.cache import ProgramConfig
from server.services.sharing import attribution as order_attribution
from server.services.sharing.codes import why_code_credits_nobody
from server.services.webhooks.outbox import record_commissions_created

CREATED_REASON = "order paid"


def _order_snapshot(program: Program, paid: OrderPaid) -> OrderSnapshot:
    return OrderSnapshot(
        program_id=program.id,
        currency=paid.currency,
        placed_at=paid.placed_at,
        lines=tuple(
            EngineLine(
                line_id=line.line_ref,
                product_id=line.product_id,
                category=line.category,
                quantity=line.quantity,
                unit_price=line.unit_price,
                amount=line.amount,
            )
            for line in paid.lines
        ),
        site_id=paid.site_id,
        campaign=paid.campaign,
    )


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
    conn: BaseDBAsyncClient, order_id: int, paid: OrderPaid, insert_id: int
) -> dict[str, int]:
    ids = await inserted_ids(conn, insert_id, len(paid.lines))
    if ids is not None:
        return {line.line_ref: line_id for line, line_id in zip(paid.lines, ids, strict=True)}
    rows = await sql_rows(
        conn, "SELECT id, line_ref FROM order_lines WHERE order_id = ?", [order_id]
    )
    return {row["line_ref"]: int(row["id"]) for row in rows}


async def _commission_ids(
    conn: BaseDBAsyncClient, order_id: int, rows: list[dict[str, Any]], insert_id: int
) -> list[int]:
    ids = await inserted_ids(conn, insert_id, len(rows))
    if ids is not None:
        return ids
    found = await sql_rows(
        conn, "SELECT id, order_line_id, level FROM commissions WHERE order_id = ?", [order_id]
    )
    by_key = {(int(row["order_line_id"]), int(row["level"])): int(row["id"]) for row in found}
    return [by_key[(row["order_line_id"], row["level"])] for row in rows]


async def _store_lines_and_commissions(
    *,
    conn: BaseDBAsyncClient,
    program: Program,
    order_id: int,
    paid: OrderPaid,
    evaluation: OrderEvaluation,
    event_row_id: int,
) -> None:
    """The order's lines, commissions and `created` history: three multi-row INSERTs."""
    # Ids come from the inserts where the database guarantees them, else from plain reads by
    # unique key: an INSERT … SELECT would take shared next-key locks on the order's commission
    # range, which deadlock with the next order's inserts on MySQL.
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
            for line in paid.lines
        ],
    )
    if not evaluation.payable:
        return
    line_ids = await _line_ids(conn, order_id, paid, insert_id)
    rows = [
        _commission_row(
            program=program, order_id=order_id, line_id=line_ids[line.line_id], line=line
        )
        for line in evaluation.payable
    ]
    commission_ids = await _commission_ids(
        conn, order_id, rows, await insert_rows(conn, Commission, rows)
    )
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
                "order_event_id": event_row_id,
                "actor_kind": "system",
                "actor_id": None,
                "at": now,
            }
            for commission_id, row in zip(commission_ids, rows, strict=True)
        ],
    )


async def _check_site(*, program: Program, site_id: int | None, conn: BaseDBAsyncClient) -> None:
    if site_id is None:
        return
    if not await Site.filter(id=site_id, program_id=program.id).using_db(conn).exists():
        raise ValidationFailed(
            "the program has no such site",
            code="unknown_site",
            fields={"order.site_id": site_id},
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
    program = config.program
    paid = event.order
    assert isinstance(paid, OrderPaid)
    if paid.currency != program.currency:
        raise currency_mismatch(paid.currency, program.currency)
    await _check_site(program=program, site_id=paid.site_id, conn=conn)

    user, matched_by, buyer_promoter = await find_buyer_and_profile(
        paid, appid=appid, program_id=program.id, conn=conn
    )
    resolved, coupon = await order_attribution.resolve_coupon(
        program_id=program.id, code=paid.coupon_code, conn=conn
    )
    attribution = await order_attribution.attribute(
        program=program,
        paid=paid,
        user=user,
        coupon=coupon,
        look_up_binding=buyer_promoter is None,
        conn=conn,
    )
    if paid.coupon_code and coupon is None:
        attribution.evidence["coupon"] = {
            "code": paid.coupon_code,
            "ignored_because": await why_code_credits_nobody(
                program_id=program.id, code=paid.coupon_code
            ),
        }
    if buyer_promoter is not None:
        attributed_id, bound_at = buyer_promoter.id, None
    else:
        attributed_id, bound_at = attribution.promoter_id, attribution.attributed_at
    snapshot = _order_snapshot(program, paid)
    terms, rules, chain, caps, earned = await paid_order_inputs(
        config=config,
        order=snapshot,
        buyer_promoter_id=buyer_promoter.id if buyer_promoter else None,
        attributed_promoter_id=None if buyer_promoter else attribution.promoter_id,
        bound_at=bound_at,
        conn=conn,
    )
    evaluation = evaluate_order(
        order=snapshot,
        terms=terms,
        rules=rules,
        chain=chain,
        period_caps=caps,
        period_earned=earned,
    )
    evidence = order_attribution.attribution_evidence(
        user=user,
        matched_by=matched_by,
        paid=paid,
        buyer_promoter=buyer_promoter,
        attribution=attribution,
        evaluation=evaluation,
        program=program,
    )
    # After the attribution (which weighed the binding as it stood before this order).
    coupon_binding = await order_attribution.bind_by_coupon(
        program=program, paid=paid, user=user, resolved=resolved, conn=conn
    )
    if coupon_binding is not None:
        evidence["coupon_binding"] = coupon_binding
    # A self purchase is credited through no touch.
    channel_id = (
        order_attribution.order_channel(attribution, resolved) if not buyer_promoter else None
    )
    now = timezone.now()
    columns: dict[str, Any] = {
        "program_id": program.id,
        "external_id": paid.external_id,
        "status": OrderStatus.PAID.value,
        "currency": paid.currency,
        "total_amount": paid.total,
        "refunded_amount": Decimal(0),
        "buyer_user_id": user.id if user else None,
        "buyer_openid": paid.buyer.openid,
        "buyer_unionid": paid.buyer.unionid,
        "buyer_external_id": paid.buyer.external_id,
        "buyer_promoter_id": buyer_promoter.id if buyer_promoter else None,
        "coupon_code": paid.coupon_code,
        "site_id": paid.site_id,
        "campaign": paid.campaign,
        "channel_id": channel_id,
        "address_hash": paid.address_hash,
        "device_hash": paid.device_hash,
        "attributed_promoter_id": attributed_id,
        "attribution": evidence,
        "placed_at": paid.placed_at,
        "paid_at": event.occurred_at,
        # Given here, not by the database, so that the Order handed on carries them too.
        "created_at": now,
        "updated_at": now,
    }
    try:
        order_id = await insert_rows(conn, Order, [columns])
    except IntegrityError:
        # The unique (program, external id) decides; the caller holds the order's lock.
        raise order_exists(paid.external_id) from None
    order = Order(id=order_id, **columns)
    order._saved_in_db = True
    await _store_lines_and_commissions(
        conn=conn,
        program=program,
        order_id=order_id,
        paid=paid,
        evaluation=evaluation,
        event_row_id=event_row_id,
    )
    # Inline fraud rules: an obviously fraudulent commission is held in this transaction.
    await fraud_inline.screen_paid_order(
        conn=conn,
        program=program,
        order=order,
        user=user,
        buyer_promoter=buyer_promoter,
        attribution=attribution,
        evaluation=evaluation,
    )
    total = sum((line.amount for line in evaluation.payable), Decimal(0))
    effects = {
        "order": {"id": order.id, "status": order.status},
        "attribution": {
            "chain": evidence["chain"],
            "reason": evidence["reason"],
            "source": "self_purchase" if buyer_promoter else attribution.source.value,
        },
        "commissions": {"count": len(evaluation.payable), "total": str(total)},
    }
    return order, effects
