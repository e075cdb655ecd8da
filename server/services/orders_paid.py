"""order.paid: the order, its lines, who it is attributed to and why, and its commissions.

Runs inside the event's transaction (server/services/order_events.py holds the order's lock).

Who the order is attributed to, and the evidence kept on it — which binding (its source,
visit, code, bind mode, window) or which code, the reason, the commission window, the levels
skipped — is server/services/order_attribution.py; the evidence is stored also when nobody
earns. A second order.paid of an existing order is refused by the unique (program,
external id) (409 `order_exists`).

Commissions come from the pure engine (`evaluate_order`) on the inputs the commission
preview service reads; each is stored `pending` with its explanation, the snapshot refunds
recompute from, the upline at order time, no unlock time until the order completes, and a
`created` history row naming the event — lines, commissions and history in bulk statements.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError

from server import clock
from server.domain.commission_calc import OrderEvaluation, evaluate_order
from server.domain.commission_inputs import OrderLine as EngineLine
from server.domain.commission_inputs import OrderSnapshot
from server.domain.commission_lines import CommissionLine
from server.domain.commission_status import CommissionStatus
from server.domain.errors import ValidationFailed
from server.domain.money import round_down
from server.domain.order_events import (
    IncomingEvent,
    OrderPaid,
    OrderStatus,
    currency_mismatch,
    order_exists,
)
from server.domain.order_refunds import snapshot_of as commission_snapshot
from server.models import Commission, CommissionChange, Order, OrderLine, Program, Site
from server.services import order_attribution
from server.services.commission_preview import build_commission_inputs

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
    *, program: Program, order: Order, line_id: int, line: CommissionLine
) -> Commission:
    return Commission(
        program_id=program.id,
        order_id=order.id,
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
    )


async def _store_lines_and_commissions(
    *,
    conn: BaseDBAsyncClient,
    program: Program,
    order: Order,
    paid: OrderPaid,
    evaluation: OrderEvaluation,
    event_row_id: int,
) -> None:
    """The order's lines, its commissions and their `created` history: five statements
    whatever the number of lines and levels.

    Ids are read back with plain reads: an INSERT … SELECT would take shared next-key locks
    on the order's commission range, which deadlock with the next order's inserts on MySQL.
    """
    await OrderLine.bulk_create(
        [
            OrderLine(
                order_id=order.id,
                line_ref=line.line_ref,
                product_id=line.product_id,
                category=line.category,
                quantity=line.quantity,
                unit_price=line.unit_price,
                amount=line.amount,
                refunded_amount=Decimal(0),
            )
            for line in paid.lines
        ],
        using_db=conn,
    )
    if not evaluation.payable:
        return
    line_ids = dict(
        await OrderLine.filter(order_id=order.id).using_db(conn).values_list("line_ref", "id")
    )
    await Commission.bulk_create(
        [
            _commission_row(
                program=program, order=order, line_id=int(line_ids[line.line_id]), line=line
            )
            for line in evaluation.payable
        ],
        using_db=conn,
    )
    created = await Commission.filter(order_id=order.id).using_db(conn).values_list("id", "amount")
    now = clock.now()
    await CommissionChange.bulk_create(
        [
            CommissionChange(
                commission_id=commission_id,
                action="created",
                from_status=None,
                to_status=CommissionStatus.PENDING.value,
                amount_before=Decimal(0),
                amount_after=amount,
                reason=CREATED_REASON,
                order_event_id=event_row_id,
                actor_kind="system",
                at=now,
            )
            for commission_id, amount in created
        ],
        using_db=conn,
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
    program: Program,
    event: IncomingEvent,
    event_row_id: int,
    appid: str,
) -> tuple[Order, dict[str, Any]]:
    """Create the paid order with its lines, attribution and commissions (module doc)."""
    paid = event.order
    assert isinstance(paid, OrderPaid)
    if paid.currency != program.currency:
        raise currency_mismatch(paid.currency, program.currency)
    await _check_site(program=program, site_id=paid.site_id, conn=conn)

    user, matched_by = await order_attribution.find_buyer(paid, appid=appid, conn=conn)
    buyer_promoter = await order_attribution.approved_profile(
        program_id=program.id, user=user, conn=conn
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
            "ignored_because": "unknown_or_inactive_code",
        }
    if buyer_promoter is not None:
        attributed_id, bound_at = buyer_promoter.id, None
    else:
        attributed_id, bound_at = attribution.promoter_id, attribution.attributed_at
    snapshot = _order_snapshot(program, paid)
    terms, rules, chain, caps, earned = await build_commission_inputs(
        program=program,
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
    try:
        order = await Order.create(
            program_id=program.id,
            external_id=paid.external_id,
            status=OrderStatus.PAID.value,
            currency=paid.currency,
            total_amount=paid.total,
            refunded_amount=Decimal(0),
            buyer_user_id=user.id if user else None,
            buyer_openid=paid.buyer.openid,
            buyer_unionid=paid.buyer.unionid,
            buyer_external_id=paid.buyer.external_id,
            buyer_promoter_id=buyer_promoter.id if buyer_promoter else None,
            coupon_code=paid.coupon_code,
            site_id=paid.site_id,
            campaign=paid.campaign,
            attributed_promoter_id=attributed_id,
            attribution=evidence,
            placed_at=paid.placed_at,
            paid_at=event.occurred_at,
            using_db=conn,
        )
    except IntegrityError:
        # The unique (program, external id) decides; the caller holds the order's lock.
        raise order_exists(paid.external_id) from None
    await _store_lines_and_commissions(
        conn=conn,
        program=program,
        order=order,
        paid=paid,
        evaluation=evaluation,
        event_row_id=event_row_id,
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
