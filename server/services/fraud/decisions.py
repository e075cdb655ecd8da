"""Staff decisions on anomalies: confirm (reject or claw back, optionally suspend) or dismiss
(release holds), one or many at once, all or none, audited.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from server import clock
from server.auth import Principal
from server.domain.commissions.status import COMMISSION_LIFECYCLE, CommissionStatus
from server.domain.errors import Conflict, FenxiaoError, NotFound, ValidationFailed
from server.domain.fraud.anomaly_status import ANOMALY_ACTIONS, AnomalyStatus, anomaly_transition
from server.domain.promoters.status import PromoterStatus
from server.models import Anomaly, AnomalyLink, Commission, CommissionChange
from server.services.access.audit import record_action
from server.services.commissions.review import apply_review_action
from server.services.fraud.anomalies import (
    HOLD_PREFIX,
    HOLDABLE,
    hold_reason_of,
    record_hold_changes,
)
from server.services.ledger import postings as ledger
from server.services.promoters.status_changes import locked_promoter, transition_promoter
from server.services.reports.marks import mark_commissions
from server.services.webhooks.outbox import record_clawback

MAX_DECISION_SIZE = 100
IN_LEDGER = (CommissionStatus.SETTLED.value, CommissionStatus.PAID.value)


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
    """Lock every commission the anomalies link, in id order, before any changes."""
    # The order settlement and refunds lock commissions in, so decisions never deadlock them.
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
    await mark_commissions(conn=conn, ids=[commission.id])
    await record_clawback(commission, amount_after=Decimal(0), reason="reverse", conn=conn)
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
        promoter = await locked_promoter(promoter_id=anomaly.promoter_id, conn=conn)
        if promoter.status == PromoterStatus.APPROVED.value:
            await transition_promoter(
                promoter=promoter,
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
    released: list[Commission] = []
    moved: dict[str, list[int]] = {}
    for commission in commissions:
        other = other_holds.get(commission.id)
        if other is None:
            released.append(commission)
        elif commission.hold_reason != hold_reason_of(int(other)):
            moved.setdefault(hold_reason_of(int(other)), []).append(commission.id)
    # Held by another open anomaly too: the hold now names that one.
    for reason, moved_ids in moved.items():
        await Commission.filter(id__in=moved_ids).using_db(conn).update(hold_reason=reason)
    if released:
        await (
            Commission.filter(id__in=[c.id for c in released])
            .using_db(conn)
            .update(hold_reason=None)
        )
        await record_hold_changes(
            conn, released, action="release", reason=f"anomaly {anomaly.id} dismissed", now=now
        )
    return {
        "released_commission_ids": [c.id for c in released],
        "still_held_commission_ids": [c.id for c in commissions if c.id in other_holds],
    }


async def decide_anomalies(
    *,
    ids: Sequence[int],
    action: str,
    note: str | None,
    actor: Principal,
    suspend_promoter: bool = False,
    request_id: str | None = None,
) -> list[dict[str, Any]]:
    """Confirm or dismiss anomalies, all or none; what each decision did."""
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
