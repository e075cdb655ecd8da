"""The cheap fraud rules, run as an order is paid, in the caller's transaction, so an obviously
fraudulent commission is held before any job can approve it.

`screen_paid_order` uses what order.paid already loaded (the program row with its
thresholds, the buyer, the attribution, the commissions computed) and reads at most one
thing more: the identities of the order's beneficiaries (one indexed join over their
promoter ids), and only when the order pays someone and the buyer is identifiable. An order
that pays nobody costs nothing. The rules: self-referral (server/domain/fraud/
self_referral.py) and a conversion with no dwell after the visit that bound the buyer
(server/domain/fraud/traffic.py). Heavier rules over many rows are the scans
(server/services/fraud_scans.py).

Visits are screened by the scans too: recording a visit only hashes it and flags known bot
user agents (server/services/visits.py), which keeps the visit path free of queries.
"""

from __future__ import annotations

from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from server.domain.attribution import AttributionSource, OrderAttribution
from server.domain.commission_calc import OrderEvaluation
from server.domain.fraud.findings import Finding
from server.domain.fraud.identity import Identity, wechat_account
from server.domain.fraud.self_referral import Beneficiary, PaidOrderFacts, detect_self_referral
from server.domain.fraud.thresholds import stored_thresholds
from server.domain.fraud.traffic import Conversion, detect_no_dwell
from server.models import Anomaly, Order, Program, Promoter, User
from server.services.anomalies import record_findings
from server.services.ledger import sql_rows

SOURCE_INLINE = "inline"


async def _identities(
    conn: BaseDBAsyncClient, promoter_ids: list[int], buyer_user_id: int | None
) -> tuple[dict[int, Identity], Identity | None]:
    """The beneficiaries' identities and the buyer's stored one, in one round trip."""
    markers = ", ".join("?" for _ in promoter_ids)
    rows = await sql_rows(
        conn,
        "SELECT p.id AS promoter_id, u.id AS user_id, p.phone AS phone, u.unionid AS unionid,"
        " u.openid AS openid FROM promoters AS p JOIN users AS u ON u.id = p.user_id"
        f" WHERE p.id IN ({markers})"
        " UNION ALL SELECT NULL, u.id, NULL, u.unionid, u.openid FROM users AS u WHERE u.id = ?",
        [*promoter_ids, buyer_user_id if buyer_user_id is not None else -1],
    )
    found: dict[int, Identity] = {}
    buyer: Identity | None = None
    for row in rows:
        identity = Identity(
            user_id=int(row["user_id"]),
            unionid=row["unionid"],
            phone=row["phone"],
            payout_accounts=wechat_account(row["openid"]),
        )
        if row["promoter_id"] is None:
            buyer = identity
        else:
            found[int(row["promoter_id"])] = identity
    return found, buyer


async def _self_referral(
    *,
    conn: BaseDBAsyncClient,
    program: Program,
    order: Order,
    user: User | None,
    buyer_promoter: Promoter | None,
    evaluation: OrderEvaluation,
) -> list[Finding]:
    if user is None and not order.buyer_unionid and not order.buyer_openid:
        return []  # nobody to compare the beneficiaries with
    levels = {(line.promoter_id, line.level) for line in evaluation.payable}
    identities, stored_buyer = await _identities(
        conn, sorted({promoter_id for promoter_id, _ in levels}), user.id if user else None
    )
    buyer = Identity(
        user_id=user.id if user else None,
        unionid=order.buyer_unionid or (stored_buyer.unionid if stored_buyer else None),
        payout_accounts=wechat_account(order.buyer_openid),
    )
    facts = PaidOrderFacts(
        order_id=order.id,
        buyer=buyer,
        buyer_promoter_id=buyer_promoter.id if buyer_promoter else None,
        self_rebate_enabled=program.self_rebate_enabled,
        beneficiaries=tuple(
            Beneficiary(
                promoter_id=promoter_id,
                level=level,
                identity=identities.get(promoter_id, Identity()),
            )
            for promoter_id, level in sorted(levels)
        ),
    )
    return detect_self_referral(facts)


def _no_dwell(program: Program, order: Order, attribution: OrderAttribution) -> list[Finding]:
    binding: dict[str, Any] = attribution.evidence.get("binding") or {}
    if (
        attribution.source != AttributionSource.BINDING
        or attribution.attributed_at is None
        or attribution.promoter_id is None
    ):
        return []
    conversion = Conversion(
        order_id=order.id,
        promoter_id=attribution.promoter_id,
        touch_source=str(binding.get("source", "")),
        touched_at=attribution.attributed_at,
        placed_at=order.placed_at,
        visit_id=binding.get("visit_id"),
    )
    return detect_no_dwell(conversion, stored_thresholds(program.fraud_thresholds))


async def screen_paid_order(
    *,
    conn: BaseDBAsyncClient,
    program: Program,
    order: Order,
    user: User | None,
    buyer_promoter: Promoter | None,
    attribution: OrderAttribution,
    evaluation: OrderEvaluation,
) -> list[Anomaly]:
    """Run the inline rules on a paid order; the anomalies opened (its commissions held)."""
    if not evaluation.payable:
        return []
    findings = _no_dwell(program, order, attribution) if buyer_promoter is None else []
    findings += await _self_referral(
        conn=conn,
        program=program,
        order=order,
        user=user,
        buyer_promoter=buyer_promoter,
        evaluation=evaluation,
    )
    if not findings:
        return []
    return await record_findings(
        conn=conn, program_id=program.id, findings=findings, source=SOURCE_INLINE
    )
