"""The cheap fraud rules, run inline: on each paid order in its transaction (held before any
job can approve it), and on visits as the worker's buffer flushes them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
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
