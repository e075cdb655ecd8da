"""Anomalies: recording what the detectors find, holding the commissions it touches, and
staff decisions (confirm or dismiss, one or many at once, audited).

Recording runs in the caller's transaction (the paid order's, or a scan batch's). A finding
becomes an open anomaly linked to its orders, visits and the commissions of those orders;
every linked commission still pending or approved is held (`hold_reason` = "anomaly:<id>",
with a `hold` history row), so neither auto-approval nor settlement touches it. A finding
of something already open (same fingerprint) adds its new rows to the open anomaly; a
finding of something staff already decided is recorded again only if it links rows the
decision did not cover.

Confirming rejects the linked commissions still pending or approved and reverses the
settled or paid ones (a clawback entry in the ledger, reference
"anomaly:<id>:commission:<id>:clawback"), and suspends the promoter when asked. Dismissing
releases each hold unless another open anomaly still holds that commission. A decision over
several anomalies is all or none: every anomaly that cannot take it is named in the error.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from server import clock
from server.auth import Principal
from server.domain.anomaly_status import ANOMALY_ACTIONS, AnomalyStatus, anomaly_transition
from server.domain.commission_status import COMMISSION_LIFECYCLE, CommissionStatus
from server.domain.errors import Conflict, FenxiaoError, NotFound, ValidationFailed
from server.domain.fraud.findings import Finding
from server.domain.promoter_status import PromoterStatus
from server.models import Anomaly, AnomalyLink, Commission, CommissionChange
from server.services import ledger
from server.services.audit import record_action
from server.services.commission_review import apply_review_action
from server.services.promoters import _locked_promoter, _transition

HOLD_PREFIX = "anomaly:"
MAX_DECISION_SIZE = 100
HOLDABLE = (CommissionStatus.PENDING.value, CommissionStatus.APPROVED.value)
IN_LEDGER = (CommissionStatus.SETTLED.value, CommissionStatus.PAID.value)
FINISHED = (CommissionStatus.REJECTED.value, CommissionStatus.REVERSED.value)


def hold_reason_of(anomaly_id: int) -> str:
    return f"{HOLD_PREFIX}{anomaly_id}"


def open_key_of(program_id: int, fingerprint: str) -> str:
    digest = hashlib.sha256(fingerprint.encode()).hexdigest()[:40]
    return f"{program_id}:{digest}"


# ---------------------------------------------------------------- recording findings


async def _linked(conn: BaseDBAsyncClient, anomaly_ids: Sequence[int]) -> set[tuple[str, int]]:
    if not anomaly_ids:
        return set()
    rows = (
        await AnomalyLink.filter(anomaly_id__in=list(anomaly_ids))
        .using_db(conn)
        .values_list("target_kind", "target_id")
    )
    return {(kind, int(target)) for kind, target in rows}


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
    await CommissionChange.bulk_create(
        [
            CommissionChange(
                commission_id=c.id,
                action="hold",
                from_status=c.status,
                to_status=c.status,
                amount_before=c.amount,
                amount_after=c.amount,
                reason=f"held by anomaly {anomaly.id} ({anomaly.kind})",
                actor_kind="system",
                at=now,
            )
            for c in commissions
        ],
        using_db=conn,
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
    """Add a finding of the same thing to its open anomaly: new rows, higher score."""
    new = targets - await _linked(conn, [current.id])
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
    """Record one finding in the caller's transaction (module doc); the anomaly it opened or
    added to, or None when staff already decided exactly this.

    The open anomaly is looked up with a plain read and locked only once found: a locking
    read of a missing key would take an InnoDB gap lock, and two such transactions inserting
    into the same gap deadlock. Two transactions opening the same thing at once meet on the
    unique open_key; the loser adds to the winner's anomaly.
    """
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


# ---------------------------------------------------------------- decisions


def _check_decision(ids: Sequence[int], action: str, note: str | None) -> list[int]:
    if action not in ANOMALY_ACTIONS:
        raise ValidationFailed(
            "unknown anomaly action", code="invalid_action", fields={"action": action}
        )
    unique = sorted(set(ids))
    if not 1 <= len(unique) <= MAX_DECISION_SIZE:
        raise ValidationFailed(
            f"between 1 and {MAX_DECISION_SIZE} anomalies per decision",
            code="invalid_ids",
            fields={"ids": f"1..{MAX_DECISION_SIZE} ids"},
        )
    if not (note and note.strip()):
        raise ValidationFailed(
            "a decision needs a note", code="note_required", fields={"note": "required"}
        )
    return unique


async def _lock_linked_commissions(conn: BaseDBAsyncClient, anomaly_ids: list[int]) -> None:
    """Lock every commission the anomalies link, in id order, before any is changed: the
    order settlement and refunds lock commissions in, so decisions never deadlock them."""
    ids = sorted(
        {
            int(i)
            for i in await AnomalyLink.filter(anomaly_id__in=anomaly_ids, target_kind="commission")
            .using_db(conn)
            .values_list("target_id", flat=True)
        }
    )
    if ids:
        await (
            Commission.filter(id__in=ids)
            .using_db(conn)
            .select_for_update()
            .order_by("id")
            .only("id")
        )


async def _linked_commissions(conn: BaseDBAsyncClient, anomaly_id: int) -> list[Commission]:
    ids = (
        await AnomalyLink.filter(anomaly_id=anomaly_id, target_kind="commission")
        .using_db(conn)
        .values_list("target_id", flat=True)
    )
    if not ids:
        return []
    return list(
        await Commission.filter(id__in=[int(i) for i in ids])
        .using_db(conn)
        .select_for_update()
        .order_by("id")
    )


async def _reverse(
    conn: BaseDBAsyncClient, anomaly: Anomaly, commission: Commission, note: str, actor: Principal
) -> Decimal:
    """Reverse a settled or paid commission: clawback of what was credited; the amount."""
    reference = f"{HOLD_PREFIX}{anomaly.id}:commission:{commission.id}:clawback"
    reason = f"anomaly {anomaly.id} confirmed: {note}"
    entry = await ledger.clawback_commission(
        conn=conn,
        commission=commission,
        new_amount=Decimal(0),
        reason=reason[:255],
        reference=reference,
    )
    before_status, before_amount = commission.status, commission.amount
    target = COMMISSION_LIFECYCLE.target(CommissionStatus(before_status), "reverse")
    await (
        Commission.filter(id=commission.id)
        .using_db(conn)
        .update(status=target.value, amount=Decimal(0), hold_reason=None, reject_reason=reason)
    )
    commission.status = target.value
    await CommissionChange.create(
        commission_id=commission.id,
        action="reverse",
        from_status=before_status,
        to_status=target.value,
        amount_before=before_amount,
        amount_after=Decimal(0),
        reason=reason[:512],
        actor_kind="staff",
        actor_id=actor.id,
        using_db=conn,
    )
    return -entry.amount if entry is not None else Decimal(0)


async def _confirm(
    conn: BaseDBAsyncClient,
    anomaly: Anomaly,
    *,
    note: str,
    suspend_promoter: bool,
    actor: Principal,
    request_id: str | None,
    now: datetime,
) -> dict[str, Any]:
    rejected, reversed_ids, clawed = [], [], Decimal(0)
    for commission in await _linked_commissions(conn, anomaly.id):
        if commission.status in HOLDABLE:
            reason = f"anomaly {anomaly.id} confirmed: {note}"[:512]
            await apply_review_action(
                commission, action="reject", reason=reason, actor=actor, now=now, conn=conn
            )
            await Commission.filter(id=commission.id).using_db(conn).update(hold_reason=None)
            rejected.append(commission.id)
        elif commission.status in IN_LEDGER:
            clawed += await _reverse(conn, anomaly, commission, note, actor)
            reversed_ids.append(commission.id)
    suspended = False
    if suspend_promoter and anomaly.promoter_id is not None:
        promoter = await _locked_promoter(anomaly.promoter_id, conn)
        if promoter.status == PromoterStatus.APPROVED.value:
            await _transition(
                promoter,
                action="suspend",
                reason=f"anomaly {anomaly.id} confirmed: {note}"[:512],
                actor=actor,
                conn=conn,
                request_id=request_id,
            )
            suspended = True
    anomaly.suspended_promoter = suspended
    return {
        "rejected_commission_ids": rejected,
        "reversed_commission_ids": reversed_ids,
        "clawed_back": str(clawed),
        "promoter_suspended": suspended,
    }


async def _release(conn: BaseDBAsyncClient, anomaly: Anomaly, now: datetime) -> dict[str, Any]:
    commissions = [c for c in await _linked_commissions(conn, anomaly.id) if c.hold_reason]
    if not commissions:
        return {"released_commission_ids": [], "still_held_commission_ids": []}
    ids = [c.id for c in commissions]
    other_holds = dict(
        await AnomalyLink.filter(
            target_kind="commission",
            target_id__in=ids,
            anomaly__status=AnomalyStatus.OPEN.value,
        )
        .exclude(anomaly_id=anomaly.id)
        .using_db(conn)
        .order_by("-anomaly_id")
        .values_list("target_id", "anomaly_id")
    )
    released, still_held = [], []
    for commission in commissions:
        other = other_holds.get(commission.id)
        if other is not None:
            reason = hold_reason_of(int(other))
            if commission.hold_reason != reason:
                await Commission.filter(id=commission.id).using_db(conn).update(hold_reason=reason)
            still_held.append(commission.id)
            continue
        await Commission.filter(id=commission.id).using_db(conn).update(hold_reason=None)
        await CommissionChange.create(
            commission_id=commission.id,
            action="release",
            from_status=commission.status,
            to_status=commission.status,
            amount_before=commission.amount,
            amount_after=commission.amount,
            reason=f"anomaly {anomaly.id} dismissed",
            actor_kind="system",
            at=now,
            using_db=conn,
        )
        released.append(commission.id)
    return {"released_commission_ids": released, "still_held_commission_ids": still_held}


async def decide_anomalies(
    *,
    ids: Sequence[int],
    action: str,
    note: str | None,
    actor: Principal,
    suspend_promoter: bool = False,
    request_id: str | None = None,
) -> list[dict[str, Any]]:
    """Confirm or dismiss anomalies, all or none (module doc); what each decision did."""
    unique = _check_decision(ids, action, note)
    assert note is not None
    note = note.strip()
    now = clock.now()
    outcomes: list[dict[str, Any]] = []
    async with in_transaction() as conn:
        anomalies = (
            await Anomaly.filter(id__in=unique).using_db(conn).select_for_update().order_by("id")
        )
        missing = sorted(set(unique) - {a.id for a in anomalies})
        if missing:
            raise NotFound(
                "no such anomaly",
                code="anomaly_not_found",
                fields={str(i): "anomaly_not_found" for i in missing},
            )
        refusals: dict[str, str] = {}
        for anomaly in anomalies:
            try:
                anomaly_transition(anomaly.status, action)
            except FenxiaoError as exc:
                refusals[str(anomaly.id)] = exc.code
        if refusals:
            raise Conflict(
                "some anomalies are already decided; nothing was changed",
                code="anomaly_already_decided",
                fields=refusals,
            )
        await _lock_linked_commissions(conn, [a.id for a in anomalies])
        for anomaly in anomalies:
            before = anomaly.status
            target = anomaly_transition(before, action)
            if action == "confirm":
                effects = await _confirm(
                    conn,
                    anomaly,
                    note=note,
                    suspend_promoter=suspend_promoter,
                    actor=actor,
                    request_id=request_id,
                    now=now,
                )
            else:
                effects = await _release(conn, anomaly, now)
            anomaly.status = target.value
            anomaly.open_key = None
            anomaly.decided_by = actor.id
            anomaly.decided_at = now
            anomaly.note = note[:512]
            await anomaly.save(using_db=conn)
            await record_action(
                actor=actor,
                action=f"anomaly.{action}",
                target_kind="anomaly",
                target_id=anomaly.id,
                program_id=anomaly.program_id,  # type: ignore[attr-defined]
                details={"from": before, "to": target.value, "note": note, **effects},
                request_id=request_id,
                using_db=conn,
            )
            outcomes.append({"id": anomaly.id, "status": target.value, **effects})
    return outcomes
