"""Disputes (rules in server.domain.payouts.disputes): promoters open them and reply,
staff reply and resolve them, accepting with an adjustment or rejecting with a reason.

A promoter only ever sees their own disputes: anyone else's is 404, as if it did not exist,
and only on their own commissions can they open one. Staff identities are not shown to
promoters (a staff message reads as from `staff`). Accepting posts the adjustment through
the adjustments service in the same transaction as the resolution; every staff action is
audited.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from server import clock
from server.auth import Principal
from server.domain.errors import Conflict, NotFound, ValidationFailed
from server.domain.ledger.adjustments import ReasonCode, check_adjustment
from server.domain.pagination import check_page_limit, next_cursor
from server.domain.payouts.disputes import (
    DISPUTE_LIFECYCLE,
    MAX_REASON_LENGTH,
    UNRESOLVED_STATUSES,
    DisputeStatus,
    SubjectKind,
    check_text,
    dispute_subject,
)
from server.models import Commission, Dispute, DisputeMessage, Promoter
from server.services.access.audit import record_action
from server.services.access.scope import within
from server.services.ledger.adjustments import (
    apply_adjustment,
    program_currency,
    serialize_adjustment,
)
from server.services.webhooks.outbox import record_dispute_opened

STATUSES = tuple(s.value for s in DisputeStatus)


def _not_found() -> NotFound:
    return NotFound("no such dispute", code="dispute_not_found")


def serialize_dispute(dispute: Dispute) -> dict[str, Any]:
    return {
        "id": dispute.id,
        "program_id": dispute.program_id,  # type: ignore[attr-defined]
        "promoter_id": dispute.promoter_id,  # type: ignore[attr-defined]
        "subject_kind": dispute.subject_kind,
        "commission_id": dispute.commission_id,
        "external_order_id": dispute.external_order_id,
        "status": dispute.status,
        "resolution_reason": dispute.resolution_reason,
        "adjustment_id": dispute.adjustment_id,
        "opened_at": dispute.opened_at,
        "updated_at": dispute.updated_at,
        "resolved_at": dispute.resolved_at,
    }


def _message(message: DisputeMessage, *, for_staff: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": message.id,
        "author": message.author_kind,
        "body": message.body,
        "created_at": message.created_at,
    }
    if for_staff:
        body["author_id"] = message.author_id
    return body


async def _thread(dispute: Dispute, *, for_staff: bool) -> dict[str, Any]:
    messages = await DisputeMessage.filter(dispute_id=dispute.id).order_by("id")
    return {
        **serialize_dispute(dispute),
        "messages": [_message(m, for_staff=for_staff) for m in messages],
    }


async def _own_promoter_ids(user_id: int, program_id: int) -> list[int]:
    ids = await Promoter.filter(user_id=user_id, program_id=program_id).values_list("id", flat=True)
    if not ids:
        raise NotFound("you are not a promoter of this program", code="promoter_not_found")
    return [int(i) for i in ids]  # type: ignore[call-overload]


async def _add_message(
    conn: BaseDBAsyncClient, dispute: Dispute, *, author_kind: str, author_id: int, text: str
) -> None:
    await DisputeMessage.create(
        dispute_id=dispute.id,
        author_kind=author_kind,
        author_id=author_id,
        body=text,
        using_db=conn,
    )


async def _move(conn: BaseDBAsyncClient, dispute: Dispute, action: str, **changes: Any) -> None:
    target = DISPUTE_LIFECYCLE.target(DisputeStatus(dispute.status), action)
    dispute.status = target.value
    for name, value in changes.items():
        setattr(dispute, name, value)
    await dispute.save(using_db=conn, update_fields=["status", "updated_at", *changes])


async def open_dispute(
    *,
    user_id: int,
    program_id: int,
    commission_id: int | None,
    external_order_id: str | None,
    text: str,
) -> dict[str, Any]:
    """The calling promoter opens a dispute on their own commission or on a missing order."""
    subject = dispute_subject(commission_id=commission_id, external_order_id=external_order_id)
    body = check_text(text)
    mine = await _own_promoter_ids(user_id, program_id)
    promoter_id = mine[0]
    if subject.kind is SubjectKind.COMMISSION:
        commission = await Commission.filter(
            id=subject.commission_id, program_id=program_id, promoter_id__in=mine
        ).first()
        if commission is None:
            raise NotFound("no such commission", code="commission_not_found")
        promoter_id = commission.promoter_id  # type: ignore[attr-defined]
        already = await Dispute.filter(
            commission_id=commission.id, status__in=sorted(UNRESOLVED_STATUSES)
        ).first()
        if already is not None:
            raise Conflict(
                "this commission already has an open dispute",
                code="dispute_already_open",
                fields={"dispute_id": already.id},
            )
    async with in_transaction() as conn:
        dispute = await Dispute.create(
            program_id=program_id,
            promoter_id=promoter_id,
            subject_kind=subject.kind.value,
            commission_id=subject.commission_id,
            external_order_id=subject.external_order_id,
            status=DisputeStatus.OPEN.value,
            using_db=conn,
        )
        await _add_message(conn, dispute, author_kind="promoter", author_id=promoter_id, text=body)
        await record_dispute_opened(dispute, conn=conn)
    return await _thread(dispute, for_staff=False)


def _check_status(status: str | None) -> None:
    if status is not None and status not in STATUSES:
        raise ValidationFailed(
            "unknown status",
            code="invalid_query",
            fields={"status": "one of " + ", ".join(STATUSES)},
        )


async def my_disputes(
    *,
    user_id: int,
    program_id: int,
    status: str | None = None,
    cursor: int | None = None,
    limit: int = 20,
) -> dict[str, Any]:
    """The calling promoter's disputes in a program, newest first."""
    check_page_limit(limit)
    _check_status(status)
    mine = await _own_promoter_ids(user_id, program_id)
    query = Dispute.filter(program_id=program_id, promoter_id__in=mine)
    if status is not None:
        query = query.filter(status=status)
    if cursor is not None:
        query = query.filter(id__lt=cursor)
    rows = await query.order_by("-id").limit(limit)
    return {
        "items": [serialize_dispute(d) for d in rows],
        "next_cursor": next_cursor([d.id for d in rows], limit),
    }


async def _my_dispute(
    user_id: int, program_id: int, dispute_id: int, conn: BaseDBAsyncClient | None = None
) -> Dispute:
    mine = await _own_promoter_ids(user_id, program_id)
    query = Dispute.filter(id=dispute_id, program_id=program_id, promoter_id__in=mine)
    if conn is not None:
        query = query.using_db(conn).select_for_update()
    dispute = await query.first()
    if dispute is None:
        raise _not_found()
    return dispute


async def my_dispute(*, user_id: int, program_id: int, dispute_id: int) -> dict[str, Any]:
    """One of the caller's disputes with its thread; 404 if it is not theirs."""
    return await _thread(await _my_dispute(user_id, program_id, dispute_id), for_staff=False)


async def promoter_reply(
    *, user_id: int, program_id: int, dispute_id: int, text: str
) -> dict[str, Any]:
    """The calling promoter adds a message to their unresolved dispute."""
    body = check_text(text)
    async with in_transaction() as conn:
        dispute = await _my_dispute(user_id, program_id, dispute_id, conn)
        await _move(conn, dispute, "promoter_reply")
        await _add_message(
            conn,
            dispute,
            author_kind="promoter",
            author_id=dispute.promoter_id,  # type: ignore[attr-defined]
            text=body,
        )
    return await _thread(dispute, for_staff=False)


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def dispute_queue(
    *,
    program_id: int | None = None,
    programs: Collection[int] | None = None,
    status: str | None = None,
    promoter_id: int | None = None,
    subject_kind: str | None = None,
    opened_from: datetime | None = None,
    opened_to: datetime | None = None,
    cursor: int | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    """Disputes for staff, newest first, with filters (`opened_to` exclusive)."""
    check_page_limit(limit)
    _check_status(status)
    if subject_kind is not None and subject_kind not in set(SubjectKind):
        raise ValidationFailed(
            "unknown subject kind", code="invalid_query", fields={"subject_kind": subject_kind}
        )
    query = within(Dispute.all(), programs)
    for name, value in (
        ("program_id", program_id),
        ("status", status),
        ("promoter_id", promoter_id),
        ("subject_kind", subject_kind),
    ):
        if value is not None:
            query = query.filter(**{name: value})
    if opened_from is not None:
        query = query.filter(opened_at__gte=_utc(opened_from))
    if opened_to is not None:
        query = query.filter(opened_at__lt=_utc(opened_to))
    if cursor is not None:
        query = query.filter(id__lt=cursor)
    rows = await query.order_by("-id").limit(limit)
    return {
        "items": [serialize_dispute(d) for d in rows],
        "next_cursor": next_cursor([d.id for d in rows], limit),
    }


async def _locked(conn: BaseDBAsyncClient, dispute_id: int) -> Dispute:
    dispute = await Dispute.filter(id=dispute_id).using_db(conn).select_for_update().first()
    if dispute is None:
        raise _not_found()
    return dispute


async def dispute_detail(*, dispute_id: int) -> dict[str, Any]:
    """One dispute with its thread, for staff."""
    dispute = await Dispute.filter(id=dispute_id).first()
    if dispute is None:
        raise _not_found()
    return await _thread(dispute, for_staff=True)


async def _audit(
    conn: BaseDBAsyncClient,
    dispute: Dispute,
    action: str,
    actor: Principal,
    request_id: str | None,
    **details: Any,
) -> None:
    await record_action(
        actor=actor,
        action=f"dispute.{action}",
        target_kind="dispute",
        target_id=dispute.id,
        program_id=dispute.program_id,  # type: ignore[attr-defined]
        details=details,
        request_id=request_id,
        using_db=conn,
    )


async def staff_reply(
    *, dispute_id: int, text: str, actor: Principal, request_id: str | None = None
) -> dict[str, Any]:
    """Staff answer an unresolved dispute; the promoter's turn next."""
    body = check_text(text)
    async with in_transaction() as conn:
        dispute = await _locked(conn, dispute_id)
        await _move(conn, dispute, "staff_reply")
        await _add_message(conn, dispute, author_kind="staff", author_id=actor.id, text=body)
        await _audit(conn, dispute, "reply", actor, request_id, length=len(body))
    return await _thread(dispute, for_staff=True)


async def reject_dispute(
    *, dispute_id: int, reason: str, actor: Principal, request_id: str | None = None
) -> dict[str, Any]:
    """Staff close a dispute without paying; the reason is shown to the promoter."""
    text = check_text(reason, field="reason", limit=MAX_REASON_LENGTH)
    async with in_transaction() as conn:
        dispute = await _locked(conn, dispute_id)
        await _move(
            conn,
            dispute,
            "reject",
            resolution_reason=text,
            resolved_by=actor.id,
            resolved_at=clock.now(),
        )
        await _add_message(conn, dispute, author_kind="staff", author_id=actor.id, text=text)
        await _audit(conn, dispute, "reject", actor, request_id, reason=text)
    return await _thread(dispute, for_staff=True)


async def accept_dispute(
    *,
    dispute_id: int,
    amount: str,
    currency: str,
    reason: str,
    actor: Principal,
    request_id: str | None = None,
) -> dict[str, Any]:
    """Staff accept a dispute and adjust the promoter's balance by `amount`, all at once."""
    text = check_text(reason, field="reason", limit=MAX_REASON_LENGTH)
    async with in_transaction() as conn:
        dispute = await _locked(conn, dispute_id)
        DISPUTE_LIFECYCLE.target(DisputeStatus(dispute.status), "accept")
        program_id: int = dispute.program_id  # type: ignore[attr-defined]
        draft = check_adjustment(
            promoter_id=dispute.promoter_id,  # type: ignore[attr-defined]
            amount=amount,
            currency=currency,
            program_currency=await program_currency(program_id, conn),
            reason_code=ReasonCode.DISPUTE_RESOLUTION.value,
            memo=f"dispute {dispute.id}",
        )
        adjustment = await apply_adjustment(
            conn,
            program_id=program_id,
            draft=draft,
            created_by=actor.id,
            idempotency_key=f"dispute:{dispute.id}",
            dispute_id=dispute.id,
        )
        await _move(
            conn,
            dispute,
            "accept",
            resolution_reason=text,
            adjustment_id=adjustment.id,
            resolved_by=actor.id,
            resolved_at=clock.now(),
        )
        await _add_message(conn, dispute, author_kind="staff", author_id=actor.id, text=text)
        await _audit(
            conn,
            dispute,
            "accept",
            actor,
            request_id,
            reason=text,
            adjustment_id=adjustment.id,
            amount=str(draft.amount),
            currency=draft.currency,
        )
    return {
        **await _thread(dispute, for_staff=True),
        "adjustment": serialize_adjustment(adjustment),
    }
