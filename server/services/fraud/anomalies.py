"""Anomalies: recording what the detectors find and holding the commissions it touches."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError

from server import clock
from server.domain.commissions.status import CommissionStatus
from server.domain.fraud.anomaly_status import AnomalyStatus
from server.domain.fraud.findings import Finding
from server.models import Anomaly, AnomalyLink, Commission, CommissionChange
from server.services.webhooks.outbox import record_anomaly_opened

HOLD_PREFIX = "anomaly:"
HOLDABLE = (CommissionStatus.PENDING.value, CommissionStatus.APPROVED.value)


async def record_hold_changes(
    conn: BaseDBAsyncClient,
    commissions: Sequence[Commission],
    *,
    action: str,
    reason: str,
    now: datetime,
) -> None:
    """One history row per commission held or released: status and amount unchanged."""
    await CommissionChange.bulk_create(
        [
            CommissionChange(
                commission_id=c.id,
                action=action,
                from_status=c.status,
                to_status=c.status,
                amount_before=c.amount,
                amount_after=c.amount,
                reason=reason,
                actor_kind="system",
                at=now,
            )
            for c in commissions
        ],
        using_db=conn,
    )


def hold_reason_of(anomaly_id: int) -> str:
    return f"{HOLD_PREFIX}{anomaly_id}"


def open_key_of(program_id: int, fingerprint: str) -> str:
    digest = hashlib.sha256(fingerprint.encode()).hexdigest()[:40]
    return f"{program_id}:{digest}"


async def _linked(
    conn: BaseDBAsyncClient, anomaly_ids: Sequence[int], *, locking: bool = False
) -> set[tuple[str, int]]:
    """The anomalies' links; `locking` reads the latest committed ones, not the snapshot."""
    if not anomaly_ids:
        return set()
    query = AnomalyLink.filter(anomaly_id__in=list(anomaly_ids)).using_db(conn)
    links = await (query.select_for_update() if locking else query)
    return {(link.target_kind, int(link.target_id)) for link in links}


async def _targets(conn: BaseDBAsyncClient, finding: Finding) -> set[tuple[str, int]]:
    targets = {("order", i) for i in finding.order_ids} | {("visit", i) for i in finding.visit_ids}
    if finding.order_ids:
        commission_ids = (
            await Commission.filter(order_id__in=list(finding.order_ids))
            .using_db(conn)
            .values_list("id", flat=True)
        )
        targets |= {("commission", int(i)) for i in commission_ids}
    return targets


async def _hold(
    conn: BaseDBAsyncClient, anomaly: Anomaly, commission_ids: Iterable[int], now: datetime
) -> int:
    """Hold the given commissions that are unsettled and not held yet; how many were."""
    ids = sorted(commission_ids)
    if not ids:
        return 0
    commissions = (
        await Commission.filter(id__in=ids, status__in=HOLDABLE, hold_reason__isnull=True)
        .using_db(conn)
        .select_for_update()
        .order_by("id")
    )
    if not commissions:
        return 0
    reason = hold_reason_of(anomaly.id)
    await (
        Commission.filter(id__in=[c.id for c in commissions])
        .using_db(conn)
        .update(hold_reason=reason)
    )
    await record_hold_changes(
        conn,
        commissions,
        action="hold",
        reason=f"held by anomaly {anomaly.id} ({anomaly.kind})",
        now=now,
    )
    return len(commissions)


async def _add_links(
    conn: BaseDBAsyncClient, anomaly: Anomaly, targets: set[tuple[str, int]], now: datetime
) -> None:
    await AnomalyLink.bulk_create(
        [
            AnomalyLink(anomaly_id=anomaly.id, target_kind=kind, target_id=target)
            for kind, target in sorted(targets)
        ],
        using_db=conn,
    )
    await _hold(conn, anomaly, (t for kind, t in targets if kind == "commission"), now)


async def _grow(
    conn: BaseDBAsyncClient,
    current: Anomaly,
    finding: Finding,
    targets: set[tuple[str, int]],
    now: datetime,
) -> Anomaly:
    """Add a finding of the same thing to the open anomaly (locked): new rows, higher score."""
    # A locking read sees the links committed since this transaction's snapshot was taken:
    # those of a concurrent transaction that opened this very anomaly first (a plain read
    # would miss them, and adding them again breaks the unique link).
    new = targets - await _linked(conn, [current.id], locking=True)
    if new:
        await _add_links(conn, current, new, now)
    if finding.score > current.score or new:
        current.score = max(current.score, finding.score)
        current.evidence = dict(finding.evidence)
        await current.save(using_db=conn, update_fields=["score", "evidence", "updated_at"])
    return current


async def _locked_open(conn: BaseDBAsyncClient, open_key: str) -> Anomaly | None:
    return await Anomaly.filter(open_key=open_key).using_db(conn).select_for_update().first()


async def record_finding(
    *, conn: BaseDBAsyncClient, program_id: int, finding: Finding, source: str
) -> Anomaly | None:
    """Record one finding; the anomaly opened or grown, None if staff decided exactly this."""
    # The open anomaly is looked up with a plain read and locked only once found: a locking
    # read of a missing key takes a gap lock, and two such inserts into one gap deadlock. Two
    # transactions opening the same thing meet on the unique open_key; the loser grows the
    # winner's anomaly.
    now = clock.now()
    open_key = open_key_of(program_id, finding.fingerprint)
    targets = await _targets(conn, finding)
    if await Anomaly.filter(open_key=open_key).using_db(conn).exists():
        current = await _locked_open(conn, open_key)
        if current is not None:
            return await _grow(conn, current, finding, targets, now)
    decided = (
        await Anomaly.filter(program_id=program_id, fingerprint=finding.fingerprint)
        .exclude(status=AnomalyStatus.OPEN.value)
        .using_db(conn)
        .values_list("id", flat=True)
    )
    if decided and targets <= await _linked(conn, [int(i) for i in decided]):
        return None
    try:
        anomaly = await Anomaly.create(
            program_id=program_id,
            kind=finding.kind.value,
            subject_kind=finding.subject_kind.value,
            subject_id=finding.subject_id,
            promoter_id=finding.promoter_id,
            score=finding.score,
            evidence=dict(finding.evidence),
            source=source,
            status=AnomalyStatus.OPEN.value,
            fingerprint=finding.fingerprint,
            open_key=open_key,
            using_db=conn,
        )
    except IntegrityError:
        current = await _locked_open(conn, open_key)
        if current is None:
            raise
        return await _grow(conn, current, finding, targets, now)
    await _add_links(conn, anomaly, targets, now)
    await record_anomaly_opened(anomaly, conn=conn)
    return anomaly


async def record_findings(
    *, conn: BaseDBAsyncClient, program_id: int, findings: Iterable[Finding], source: str
) -> list[Anomaly]:
    """Record several findings in the caller's transaction; the anomalies opened or grown."""
    recorded = []
    for finding in findings:
        anomaly = await record_finding(
            conn=conn, program_id=program_id, finding=finding, source=source
        )
        if anomaly is not None:
            recorded.append(anomaly)
    return recorded
