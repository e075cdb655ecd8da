"""The cheap fraud rules, run inline: on each paid order in its transaction (held before any
job can approve it), and on visits as the worker's buffer flushes them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from server.domain.commissions.calc import OrderEvaluation
from server.domain.fraud.findings import MAX_LINKED_VISITS, Finding
from server.domain.fraud.identity import Identity, wechat_account
from server.domain.fraud.self_referral import Beneficiary, PaidOrderFacts, detect_self_referral
from server.domain.fraud.thresholds import FraudThresholds, stored_thresholds
from server.domain.fraud.traffic import Conversion, detect_no_dwell
from server.domain.fraud.visit_floods import Crossing, FloodCounter
from server.domain.sharing.attribution import AttributionSource, OrderAttribution
from server.models import Anomaly, Order, Program, Promoter, User
from server.services.fraud.anomalies import record_finding, record_findings
from server.services.ledger.postings import sql_rows
from server.services.sharing.visit_buffer import PendingVisit

log = logging.getLogger("fenxiao.fraud")

SOURCE_INLINE = "inline"
THRESHOLDS_TTL_SECONDS = 60.0
# Crossings kept for a later flush when recording them fails (the database is down).
MAX_PENDING_CROSSINGS = 1000


@dataclass(frozen=True)
class PaidOrder:
    """A paid order just written, with what decided its commissions."""

    program: Program
    order: Order
    user: User | None
    buyer_promoter: Promoter | None
    attribution: OrderAttribution
    evaluation: OrderEvaluation

    def compared(self) -> bool:
        """Whether there is a buyer to compare the beneficiaries with."""
        order = self.order
        return bool(self.evaluation.payable) and (
            self.user is not None or bool(order.buyer_unionid) or bool(order.buyer_openid)
        )


async def _identities(
    conn: BaseDBAsyncClient, promoter_ids: list[int], buyer_user_ids: list[int]
) -> tuple[dict[int, Identity], dict[int, Identity]]:
    """The beneficiaries' identities and the buyers' stored ones (by user id), in one read."""
    promoters = ", ".join("?" for _ in promoter_ids) or "NULL"
    buyers = ", ".join("?" for _ in buyer_user_ids) or "NULL"
    rows = await sql_rows(
        conn,
        "SELECT p.id AS promoter_id, u.id AS user_id, p.phone AS phone, u.unionid AS unionid,"
        " u.openid AS openid FROM promoters AS p JOIN users AS u ON u.id = p.user_id"
        f" WHERE p.id IN ({promoters})"
        f" UNION ALL SELECT NULL, u.id, NULL, u.unionid, u.openid FROM users AS u"
        f" WHERE u.id IN ({buyers})",
        [*promoter_ids, *buyer_user_ids],
    )
    found: dict[int, Identity] = {}
    stored_buyers: dict[int, Identity] = {}
    for row in rows:
        identity = Identity(
            user_id=int(row["user_id"]),
            unionid=row["unionid"],
            phone=row["phone"],
            payout_accounts=wechat_account(row["openid"]),
        )
        if row["promoter_id"] is None:
            stored_buyers[identity.user_id] = identity  # type: ignore[index]
        else:
            found[int(row["promoter_id"])] = identity
    return found, stored_buyers


def _self_referral(
    paid: PaidOrder, identities: dict[int, Identity], stored_buyer: Identity | None
) -> list[Finding]:
    order, user, buyer_promoter = paid.order, paid.user, paid.buyer_promoter
    levels = {(line.promoter_id, line.level) for line in paid.evaluation.payable}
    buyer = Identity(
        user_id=user.id if user else None,
        unionid=order.buyer_unionid or (stored_buyer.unionid if stored_buyer else None),
        payout_accounts=wechat_account(order.buyer_openid),
    )
    facts = PaidOrderFacts(
        order_id=order.id,
        buyer=buyer,
        buyer_promoter_id=buyer_promoter.id if buyer_promoter else None,
        self_rebate_enabled=paid.program.self_rebate_enabled,
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


async def screen_paid_orders(*, conn: BaseDBAsyncClient, orders: list[PaidOrder]) -> list[Anomaly]:
    """Run the inline rules on paid orders (one identities read for all); the anomalies
    opened (their commissions held)."""
    compared = [paid for paid in orders if paid.compared()]
    identities: dict[int, Identity] = {}
    stored_buyers: dict[int, Identity] = {}
    if compared:
        identities, stored_buyers = await _identities(
            conn,
            sorted({line.promoter_id for paid in compared for line in paid.evaluation.payable}),
            sorted({paid.user.id for paid in compared if paid.user is not None}),
        )
    opened: list[Anomaly] = []
    for paid in orders:
        if not paid.evaluation.payable:
            continue
        findings = (
            _no_dwell(paid.program, paid.order, paid.attribution)
            if paid.buyer_promoter is None
            else []
        )
        if paid.compared():
            stored = stored_buyers.get(paid.user.id) if paid.user is not None else None
            findings += _self_referral(paid, identities, stored)
        if findings:
            opened += await record_findings(
                conn=conn, program_id=paid.program.id, findings=findings, source=SOURCE_INLINE
            )
    return opened


# ---------------------------------------------------------------- visits


class VisitScreen:
    """A worker's inline visit screening, driven by its VisitBuffer."""

    def __init__(
        self,
        *,
        counter: FloodCounter | None = None,
        thresholds_ttl_seconds: float = THRESHOLDS_TTL_SECONDS,
    ) -> None:
        self.counter = counter if counter is not None else FloodCounter()
        self.thresholds_ttl_seconds = thresholds_ttl_seconds
        self._thresholds: dict[int, tuple[float, FraudThresholds]] = {}

    async def _thresholds_of(self, program_ids: set[int]) -> dict[int, FraudThresholds]:
        now = time.monotonic()
        stale = [
            program_id
            for program_id in program_ids
            if (cached := self._thresholds.get(program_id)) is None or cached[0] <= now
        ]
        if stale:
            try:
                rows = await Program.filter(id__in=stale).values_list("id", "fraud_thresholds")
                stored = dict(rows)
            except Exception:
                # Unreadable now: keep what was known (or the defaults) until the next try.
                log.exception("fraud thresholds could not be read; screening with the last known")
                stored = {}
                stale = [p for p in stale if p not in self._thresholds]
            for program_id in stale:
                thresholds = stored_thresholds(stored.get(program_id))
                self._thresholds[program_id] = (now + self.thresholds_ttl_seconds, thresholds)
        return {program_id: self._thresholds[program_id][1] for program_id in program_ids}

    async def screen(self, rows: Sequence[PendingVisit]) -> list[PendingVisit]:
        """The rows, those of a flood or inhuman rate flagged as bots."""
        thresholds = await self._thresholds_of({row.program_id for row in rows})
        count = self.counter.count
        screened = []
        for row in rows:
            limits = thresholds[row.program_id]
            at = row.at.timestamp()
            suspect = False
            if row.ip_hash is not None:
                suspect = count(row.program_id, (row.promoter_id, "ip", row.ip_hash), at, limits)
            if row.visitor_hash is not None:
                key = (row.promoter_id, "device", row.visitor_hash)
                suspect = count(row.program_id, key, at, limits) or suspect
            screened.append(row._replace(is_bot=True) if suspect and not row.is_bot else row)
        return screened

    async def _record(self, crossing: Crossing) -> None:
        column = "ip_hash" if crossing.key_kind == "ip" else "visitor_hash"
        async with in_transaction() as conn:
            rows = await sql_rows(
                conn,
                "SELECT id FROM visits WHERE program_id = ? AND promoter_id = ?"
                f" AND {column} = ? AND at >= ? ORDER BY id LIMIT {MAX_LINKED_VISITS}",
                [
                    crossing.program_id,
                    crossing.promoter_id,
                    crossing.key_hash,
                    datetime.fromtimestamp(crossing.first_at, UTC),
                ],
            )
            thresholds = (await self._thresholds_of({crossing.program_id}))[crossing.program_id]
            finding = crossing.finding(thresholds, tuple(int(row["id"]) for row in rows))
            if finding is not None:
                await record_finding(
                    conn=conn,
                    program_id=crossing.program_id,
                    finding=finding,
                    source=SOURCE_INLINE,
                )

    async def record_crossings(self) -> int:
        """Record each crossing in its own transaction; a failed one waits for the next flush."""
        pending = self.counter.crossings
        recorded = 0
        while pending:
            try:
                await self._record(pending[0])
            except Exception:
                log.exception("an inline visit anomaly could not be recorded; kept for later")
                del pending[:-MAX_PENDING_CROSSINGS]
                break
            del pending[0]
            recorded += 1
        return recorded
