"""Who an order.paid is attributed to (self purchase, binding or checkout coupon code, under
the program's conflict policy), and the evidence kept on the order.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from server.db import connection
from server.domain.commissions.calc import OrderEvaluation
from server.domain.orders.events import OrderPaid
from server.domain.promoters.status import PromoterStatus
from server.domain.sharing.attribution import (
    AttributionSource,
    CouponTouch,
    OrderAttribution,
    TouchSource,
    attribute_order,
)
from server.models import Binding, Program, Promoter, User
from server.services.sharing.bindings import NO_USER_ID, bind_from_touch, current_binding
from server.services.sharing.bindings import snapshot_of as binding_snapshot
from server.services.sharing.codes import ResolvedCode, resolve_code, why_code_credits_nobody


async def find_buyer(
    paid: OrderPaid, *, appid: str, conn: BaseDBAsyncClient
) -> tuple[User | None, str | None]:
    """The buyer's user and what matched (openid, unionid), or (None, None)."""
    buyer = paid.buyer
    if buyer.openid:
        user = await User.filter(appid=appid, openid=buyer.openid).using_db(conn).only("id").first()
        if user is not None:
            return user, "openid"
    if buyer.unionid:
        user = (
            await User.filter(unionid=buyer.unionid)
            .using_db(conn)
            .order_by("id")
            .only("id")
            .first()
        )
        if user is not None:
            return user, "unionid"
    return None, None


async def approved_profile(
    *, program_id: int, user: User | None, conn: BaseDBAsyncClient
) -> Promoter | None:
    """The buyer's own promoter profile in the program, when it is approved."""
    if user is None:
        return None
    return (
        await Promoter.filter(
            program_id=program_id, user_id=user.id, status=PromoterStatus.APPROVED.value
        )
        .using_db(conn)
        .order_by("-id")
        .only("id")
        .first()
    )


async def resolve_coupon(
    *, program_id: int, code: str | None, conn: BaseDBAsyncClient
) -> tuple[ResolvedCode | None, CouponTouch | None]:
    """The promoter a typed coupon code credits, as a resolved code and a touch (or Nones)."""
    if not code:
        return None, None
    resolved = await resolve_code(program_id=program_id, code=code)
    if resolved is None:
        return None, None
    promoter = await Promoter.get(id=resolved.promoter_id, using_db=conn)
    touch = CouponTouch(
        code=resolved.matched_code,
        promoter_id=promoter.id,
        promoter_user_id=promoter.user_id,  # type: ignore[attr-defined]
        promoter_status=promoter.status,
    )
    return resolved, touch


def binding_evidence(binding: Binding, program: Program) -> dict[str, Any]:
    """Where a binding came from: the touch, its mode, the window it lasts."""
    return {
        "binding_id": binding.id,
        "source": binding.source,
        "bind_mode": binding.bind_mode,
        "visit_id": binding.visit_id,
        "share_link_id": binding.share_link_id,
        "reached_by": binding.reached_by,
        "code_id": binding.code_id,
        "channel_id": binding.channel_id,
        "attribution_window_days": program.attribution_window_days,
    }


async def attribute(
    *,
    program: Program,
    paid: OrderPaid,
    user: User | None,
    coupon: CouponTouch | None,
    look_up_binding: bool,
    conn: BaseDBAsyncClient,
) -> OrderAttribution:
    """The binding at the order time against the coupon, under the program's policy."""
    binding = None
    if look_up_binding and (user is not None or paid.buyer.external_id):
        binding = await current_binding(
            program_id=program.id,
            customer_user_id=user.id if user else None,
            customer_external_id=paid.buyer.external_id,
            at=paid.placed_at,
            conn=conn,
        )
    attribution = attribute_order(
        policy=program.attribution_conflict_policy,
        buyer_user_id=user.id if user else NO_USER_ID,
        binding=binding_snapshot(binding) if binding is not None else None,
        coupon=coupon,
        placed_at=paid.placed_at,
    )
    if binding is not None:
        attribution.evidence["binding"].update(binding_evidence(binding, program))
    elif not look_up_binding:
        attribution.evidence["binding"] = {"not_consulted": "the buyer starts the chain"}
    return attribution


def order_channel(attribution: OrderAttribution, resolved: ResolvedCode | None) -> int | None:
    """The channel of the touch an order is credited through: the winning binding's, or the
    code's when the code typed at checkout wins (None for a self purchase or nobody)."""
    if attribution.source == AttributionSource.COUPON and resolved is not None:
        return resolved.channel_id
    if attribution.source == AttributionSource.BINDING:
        return attribution.evidence.get("binding", {}).get("channel_id")
    return None


def attribution_evidence(
    *,
    user: User | None,
    matched_by: str | None,
    paid: OrderPaid,
    buyer_promoter: Promoter | None,
    attribution: OrderAttribution,
    evaluation: OrderEvaluation,
    program: Program,
) -> dict[str, Any]:
    """What the order keeps of why it was attributed and who earns (JSON-safe)."""
    if buyer_promoter is not None:
        chain, reason = "self_purchase", "buyer_is_approved_promoter"
    else:
        chain = "referred" if attribution.promoter_id is not None else "nobody"
        reason = attribution.reason
    return {
        "chain": chain,
        "reason": reason,
        "buyer": {
            "user_id": user.id if user else None,
            "matched_by": matched_by,
            "external_id": paid.buyer.external_id,
            "promoter_id": buyer_promoter.id if buyer_promoter else None,
        },
        "attribution": attribution.evidence,
        "commission_window_days": program.commission_window_days,
        "refusal": evaluation.refusal,
        "skipped_levels": [
            {"level": s.level, "promoter_id": s.promoter_id, "reason": s.reason}
            for s in evaluation.skipped
        ],
    }


async def bind_by_coupon(
    *,
    program: Program,
    paid: OrderPaid,
    user: User | None,
    resolved: ResolvedCode | None,
    conn: BaseDBAsyncClient,
) -> dict[str, Any] | None:
    """A coupon code binds a known customer like any touch; what the bind mode decided."""
    if resolved is None or (user is None and not paid.buyer.external_id):
        return None
    decision = await bind_from_touch(
        program_id=program.id,
        customer_user_id=user.id if user else None,
        customer_external_id=paid.buyer.external_id,
        promoter_id=resolved.promoter_id,
        channel_id=resolved.channel_id,
        code_id=resolved.code_id,
        visit_id=None,
        source="code",
        at=paid.placed_at,
        conn=conn,
        reached_by=TouchSource.CODE,
    )
    return {"action": decision.action.value, "reason": decision.reason}


async def preview_attribution(
    *,
    program: Program,
    customer_user_id: int | None,
    customer_external_id: str | None,
    coupon_code: str,
    placed_at: datetime,
) -> OrderAttribution:
    """For a dry run: the binding against a typed coupon, as an order.paid would weigh them."""
    conn = connection()
    _, coupon = await resolve_coupon(program_id=program.id, code=coupon_code, conn=conn)
    binding = None
    if customer_user_id is not None or customer_external_id:
        binding = await current_binding(
            program_id=program.id,
            customer_user_id=customer_user_id,
            customer_external_id=customer_external_id,
            at=placed_at,
            conn=conn,
        )
    attribution = attribute_order(
        policy=program.attribution_conflict_policy,
        buyer_user_id=customer_user_id if customer_user_id is not None else NO_USER_ID,
        binding=binding_snapshot(binding) if binding is not None else None,
        coupon=coupon,
        placed_at=placed_at,
    )
    if coupon is None:
        attribution.evidence["coupon"] = {
            "code": coupon_code,
            "ignored_because": await why_code_credits_nobody(
                program_id=program.id, code=coupon_code
            ),
        }
    return attribution
