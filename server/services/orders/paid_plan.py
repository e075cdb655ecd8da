"""order.paid before anything is written: the buyer, who is credited and why, what each earns
and the order's columns — for one event or a drainer's batch (one read for all the buyers,
one for all the chains).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tortoise import timezone
from tortoise.backends.base.client import BaseDBAsyncClient

from server.domain.commissions.calc import OrderEvaluation, evaluate_order
from server.domain.commissions.inputs import BeneficiaryChain, OrderSnapshot
from server.domain.commissions.inputs import OrderLine as EngineLine
from server.domain.errors import ValidationFailed
from server.domain.orders.events import IncomingEvent, OrderPaid, OrderStatus, currency_mismatch
from server.domain.sharing.attribution import OrderAttribution
from server.models import Program, Promoter, Site, User
from server.services.orders.paid_inputs import (
    ChainStart,
    find_buyers,
    paid_chains,
    paid_order_inputs,
)
from server.services.programs.cache import ProgramConfig
from server.services.sharing import attribution as order_attribution
from server.services.sharing.codes import why_code_credits_nobody


@dataclass(frozen=True)
class PaidItem:
    """One order.paid to apply: its program's configuration and its stored event row."""

    config: ProgramConfig
    event: IncomingEvent
    event_row_id: int

    @property
    def paid(self) -> OrderPaid:
        assert isinstance(self.event.order, OrderPaid)
        return self.event.order


@dataclass(frozen=True)
class PaidPlan:
    """Everything an order.paid writes, decided: its order's columns and its evaluation."""

    item: PaidItem
    user: User | None
    buyer_promoter: Promoter | None
    attribution: OrderAttribution
    evaluation: OrderEvaluation
    evidence: dict[str, Any]
    columns: dict[str, Any]


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


async def _check_site(*, program: Program, site_id: int | None, conn: BaseDBAsyncClient) -> None:
    if site_id is None:
        return
    if not await Site.filter(id=site_id, program_id=program.id).using_db(conn).exists():
        raise ValidationFailed(
            "the program has no such site",
            code="unknown_site",
            fields={"order.site_id": site_id},
        )


@dataclass
class _Credit:
    """What the attribution decided for one order, before its chain is read."""

    user: User | None
    matched_by: str | None
    buyer_promoter: Promoter | None
    resolved: Any
    attribution: OrderAttribution
    bound_at: Any


async def _credit(
    item: PaidItem, buyer: tuple[User | None, str | None, Promoter | None], conn: BaseDBAsyncClient
) -> _Credit:
    program, paid = item.config.program, item.paid
    user, matched_by, buyer_promoter = buyer
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
    bound_at = None if buyer_promoter is not None else attribution.attributed_at
    return _Credit(user, matched_by, buyer_promoter, resolved, attribution, bound_at)


async def _plan(
    item: PaidItem, credit: _Credit, chain: BeneficiaryChain, conn: BaseDBAsyncClient
) -> PaidPlan:
    program, paid, event = item.config.program, item.paid, item.event
    user, buyer_promoter, attribution = credit.user, credit.buyer_promoter, credit.attribution
    snapshot = _order_snapshot(program, paid)
    terms, rules, chain, caps, earned = await paid_order_inputs(
        config=item.config, order=snapshot, chain=chain, conn=conn
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
        matched_by=credit.matched_by,
        paid=paid,
        buyer_promoter=buyer_promoter,
        attribution=attribution,
        evaluation=evaluation,
        program=program,
    )
    # After the attribution (which weighed the binding as it stood before this order).
    coupon_binding = await order_attribution.bind_by_coupon(
        program=program, paid=paid, user=user, resolved=credit.resolved, conn=conn
    )
    if coupon_binding is not None:
        evidence["coupon_binding"] = coupon_binding
    # A self purchase is credited through no touch.
    channel_id = (
        order_attribution.order_channel(attribution, credit.resolved)
        if not buyer_promoter
        else None
    )
    attributed_id = buyer_promoter.id if buyer_promoter is not None else attribution.promoter_id
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
    return PaidPlan(item, user, buyer_promoter, attribution, evaluation, evidence, columns)


async def plan_paid_orders(
    *, items: list[PaidItem], appid: str, conn: BaseDBAsyncClient
) -> list[PaidPlan]:
    """Decide each order.paid of `items` (orders of one program or several, none twice)."""
    for item in items:
        program, paid = item.config.program, item.paid
        if paid.currency != program.currency:
            raise currency_mismatch(paid.currency, program.currency)
        await _check_site(program=program, site_id=paid.site_id, conn=conn)
    buyers = await find_buyers(
        [(item.paid, item.config.program.id) for item in items], appid=appid, conn=conn
    )
    credits = [await _credit(item, buyer, conn) for item, buyer in zip(items, buyers, strict=True)]
    starts = [
        ChainStart(
            buyer_promoter_id=credit.buyer_promoter.id if credit.buyer_promoter else None,
            attributed_promoter_id=(
                None if credit.buyer_promoter else credit.attribution.promoter_id
            ),
            bound_at=credit.bound_at,
        )
        for credit in credits
    ]
    chains = await paid_chains(
        [(item.config, start) for item, start in zip(items, starts, strict=True)], conn=conn
    )
    return [
        await _plan(item, credit, chain, conn)
        for item, credit, chain in zip(items, credits, chains, strict=True)
    ]
