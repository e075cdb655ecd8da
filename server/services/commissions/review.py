"""Staff review of commissions the auto-approval left pending: the queue and bulk decisions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from server import clock
from server.auth import Principal
from server.domain.commissions.status import COMMISSION_LIFECYCLE, CommissionStatus
from server.domain.errors import Conflict, NotFound, ValidationFailed
from server.domain.ledger.postings import REVIEW_ACTIONS, review_refusal
from server.domain.money import money_text, optional_money_text
from server.domain.pagination import check_page_limit, next_cursor
from server.models import Commission, CommissionChange, Program
from server.services.access.audit import record_action
from server.services.reports.marks import mark_commissions

MAX_REVIEW_SIZE = 100
REVIEWABLE_STATUSES = frozenset({CommissionStatus.PENDING.value, CommissionStatus.APPROVED.value})


def _utc(moment: datetime | None) -> datetime | None:
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


def _unlocked(commission: Commission, now: datetime) -> bool:
    unlock_at = _utc(commission.unlock_at)
    return unlock_at is not None and unlock_at <= now


def serialize_commission(commission: Commission, *, now: datetime) -> dict[str, Any]:
    """A commission as staff review it."""
    return {
        "id": commission.id,
        "program_id": commission.program_id,  # type: ignore[attr-defined]
        "order_id": commission.order_id,  # type: ignore[attr-defined]
        "order_line_id": commission.order_line_id,  # type: ignore[attr-defined]
        "promoter_id": commission.promoter_id,  # type: ignore[attr-defined]
        "level": commission.level,
        "status": commission.status,
        "currency": commission.currency,
        "amount": money_text(commission.amount, commission.currency),
        "original_amount": money_text(commission.original_amount, commission.currency),
        "settled_amount": optional_money_text(commission.settled_amount, commission.currency),
        "rule_source": commission.rule_source,
        "explanation": commission.explanation,
        "unlock_at": commission.unlock_at,
        "unlocked": _unlocked(commission, now),
        "hold_reason": commission.hold_reason,
        "reject_reason": commission.reject_reason,
        "created_at": commission.created_at,
        "approved_at": commission.approved_at,
    }


async def review_queue(
    *,
    program_id: int,
    status: str = CommissionStatus.PENDING.value,
    unlocked: bool | None = None,
    promoter_id: int | None = None,
    order_id: int | None = None,
    level: int | None = None,
    cursor: int | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    """A page of a program's commissions awaiting review, newest first."""
    check_page_limit(limit)
    if status not in REVIEWABLE_STATUSES:
        raise ValidationFailed(
            "only pending or approved commissions are reviewed",
            code="invalid_status",
            fields={"status": sorted(REVIEWABLE_STATUSES)},
        )
    if not await Program.filter(id=program_id).exists():
        raise NotFound("no such program", code="program_not_found")
    now = clock.now()
    query = Commission.filter(program_id=program_id, status=status)
    if unlocked is True:
        query = query.filter(unlock_at__lte=now)
    elif unlocked is False:
        query = query.filter(Q(unlock_at__isnull=True) | Q(unlock_at__gt=now))
    if promoter_id is not None:
        query = query.filter(promoter_id=promoter_id)
    if order_id is not None:
        query = query.filter(order_id=order_id)
    if level is not None:
        query = query.filter(level=level)
    if cursor is not None:
        query = query.filter(id__lt=cursor)
    commissions = await query.order_by("-id").limit(limit)
    return {
        "items": [serialize_commission(c, now=now) for c in commissions],
        "next_cursor": next_cursor([row.id for row in commissions], limit),
    }


def _check_request(ids: list[int], action: str, reason: str | None) -> list[int]:
    if action not in REVIEW_ACTIONS:
        raise ValidationFailed(
            "unknown review action", code="invalid_action", fields={"action": action}
        )
    unique = sorted(set(ids))
    if not 1 <= len(unique) <= MAX_REVIEW_SIZE:
        raise ValidationFailed(
            "between 1 and 100 commissions per review",
            code="invalid_ids",
            fields={"ids": f"1..{MAX_REVIEW_SIZE} ids"},
        )
    if action == "reject" and not (reason and reason.strip()):
        raise ValidationFailed(
            "a rejection needs a reason", code="reason_required", fields={"reason": "required"}
        )
    return unique


async def review_commissions(
    *,
    ids: list[int],
    action: str,
    reason: str | None,
    actor: Principal,
    request_id: str | None = None,
) -> dict[str, Any]:
    """Approve or reject commissions, all or none; refusals name every id and why."""
    unique = _check_request(ids, action, reason)
    now = clock.now()
    async with in_transaction() as conn:
        # Lock in id order: settlement and refunds lock commissions before balances too.
        commissions = (
            await Commission.filter(id__in=unique).using_db(conn).select_for_update().order_by("id")
        )
        missing = sorted(set(unique) - {c.id for c in commissions})
        if missing:
            raise NotFound(
                "no such commission",
                code="commission_not_found",
                fields={str(i): "commission_not_found" for i in missing},
            )
        refusals = {
            str(c.id): refusal
            for c in commissions
            if (
                refusal := review_refusal(
                    status=c.status,
                    action=action,
                    unlocked=_unlocked(c, now),
                    held=c.hold_reason is not None,
                )
            )
        }
        if refusals:
            codes = set(refusals.values())
            raise Conflict(
                "some commissions cannot be " + ("approved" if action == "approve" else "rejected"),
                code=codes.pop() if len(codes) == 1 else "commission_review_refused",
                fields=refusals,
            )
        for commission in commissions:
            await apply_review_action(
                commission, action=action, reason=reason, actor=actor, now=now, conn=conn
            )
            await record_action(
                actor=actor,
                action=f"commission.{action}",
                target_kind="commission",
                target_id=commission.id,
                program_id=commission.program_id,  # type: ignore[attr-defined]
                details={"reason": reason, "amount": str(commission.amount)},
                request_id=request_id,
                using_db=conn,
            )
    return {"items": [serialize_commission(c, now=now) for c in commissions]}


async def apply_review_action(
    commission: Commission,
    *,
    action: str,
    reason: str | None,
    actor: Principal,
    now: datetime,
    conn: BaseDBAsyncClient,
) -> None:
    """Approve or reject one locked commission: status, its history row (staff actor)."""
    before = commission.status
    target = COMMISSION_LIFECYCLE.target(CommissionStatus(before), action)
    commission.status = target.value
    fields = ["status", "updated_at"]
    if action == "approve":
        commission.approved_at = now
        fields.append("approved_at")
    else:
        commission.reject_reason = reason
        fields.append("reject_reason")
    await commission.save(using_db=conn, update_fields=fields)
    await CommissionChange.create(
        commission_id=commission.id,
        action=action,
        from_status=before,
        to_status=target.value,
        amount_before=commission.amount,
        amount_after=commission.amount,
        reason=reason,
        actor_kind="staff",
        actor_id=actor.id,
        at=now,
        using_db=conn,
    )
    await mark_commissions(conn=conn, ids=[commission.id])
