"""Staff adjustments of promoter balances, one at a time or from a CSV upload, via the ledger.

A single adjustment is idempotent by key; an upload is all-or-nothing and applied once.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from server.auth import Principal
from server.domain.errors import Conflict, NotFound, ValidationFailed
from server.domain.idempotency import idempotency_key_reused
from server.domain.ledger.adjustments import (
    MAX_UPLOAD_BYTES,
    AdjustmentDraft,
    ReasonCode,
    RowError,
    check_adjustment,
    missing_promoter_errors,
    parse_adjustment_csv,
)
from server.domain.ledger.postings import Account, MovementKind
from server.domain.money import money_text
from server.domain.pagination import check_page_limit, next_cursor
from server.models import Adjustment, AdjustmentBatch, Program, Promoter
from server.services.access.audit import record_action
from server.services.ledger.postings import post_movement

MAX_REPORTED_ERRORS = 500


def serialize_adjustment(adjustment: Adjustment) -> dict[str, Any]:
    return {
        "id": adjustment.id,
        "program_id": adjustment.program_id,  # type: ignore[attr-defined]
        "promoter_id": adjustment.promoter_id,  # type: ignore[attr-defined]
        "currency": adjustment.currency,
        "amount": money_text(adjustment.amount, adjustment.currency),
        "reason_code": adjustment.reason_code,
        "memo": adjustment.memo,
        "created_by": adjustment.created_by,
        "batch_id": adjustment.batch_id,  # type: ignore[attr-defined]
        "dispute_id": adjustment.dispute_id,
        "ledger_reference": adjustment.ledger_reference,
        "created_at": adjustment.created_at,
    }


def _serialize_batch(batch: AdjustmentBatch) -> dict[str, Any]:
    return {
        "id": batch.id,
        "program_id": batch.program_id,  # type: ignore[attr-defined]
        "filename": batch.filename,
        "row_count": batch.row_count,
        "currency": batch.currency,
        "total_amount": batch.total_amount,
        "status": batch.status,
        "created_by": batch.created_by,
        "created_at": batch.created_at,
    }


async def program_currency(program_id: int, conn: BaseDBAsyncClient | None = None) -> str:
    """The one currency a program counts in; NotFound if there is no such program."""
    program = await Program.filter(id=program_id).using_db(conn).only("id", "currency").first()
    if program is None:
        raise NotFound("no such program", code="program_not_found")
    return program.currency


async def _check_promoter_in_program(
    conn: BaseDBAsyncClient, *, promoter_id: int, program_id: int
) -> None:
    if not await Promoter.filter(id=promoter_id, program_id=program_id).using_db(conn).exists():
        raise NotFound("no such promoter in this program", code="promoter_not_found")


async def apply_adjustment(
    conn: BaseDBAsyncClient,
    *,
    program_id: int,
    draft: AdjustmentDraft,
    created_by: int,
    idempotency_key: str,
    batch_id: int | None = None,
    dispute_id: int | None = None,
) -> Adjustment:
    """Write one checked adjustment and its ledger movement in the caller's transaction."""
    adjustment = await Adjustment.create(
        program_id=program_id,
        promoter_id=draft.promoter_id,
        currency=draft.currency,
        amount=draft.amount,
        reason_code=draft.reason_code.value,
        memo=draft.memo,
        created_by=created_by,
        batch_id=batch_id,
        dispute_id=dispute_id,
        idempotency_key=idempotency_key,
        using_db=conn,
    )
    reference = f"adjustment:{adjustment.id}"
    await post_movement(
        conn=conn,
        promoter_id=draft.promoter_id,
        program_id=program_id,
        currency=draft.currency,
        kind=MovementKind.ADJUSTMENT.value,
        postings=[(Account.AVAILABLE.value, draft.amount)],
        reference=reference,
        memo=f"{draft.reason_code.value}: {draft.memo}" if draft.memo else draft.reason_code.value,
    )
    adjustment.ledger_reference = reference
    await adjustment.save(using_db=conn, update_fields=["ledger_reference"])
    return adjustment


def _same_request(existing: Adjustment, draft: AdjustmentDraft) -> bool:
    return (
        existing.promoter_id == draft.promoter_id  # type: ignore[attr-defined]
        and existing.amount == draft.amount
        and existing.currency == draft.currency
        and existing.reason_code == draft.reason_code.value
    )


async def _replayed(program_id: int, idempotency_key: str, draft: AdjustmentDraft) -> Adjustment:
    existing = await Adjustment.get(program_id=program_id, idempotency_key=idempotency_key)
    if not _same_request(existing, draft):
        raise Conflict(
            "this idempotency key was used for another adjustment",
            code="idempotency_key_reused",
            fields={"idempotency_key": idempotency_key, "adjustment_id": existing.id},
        )
    return existing


async def replayed_adjustment(*, program_id: int, adjustment_id: int) -> dict[str, Any]:
    """An adjustment a replayed request created, marked as replayed."""
    adjustment = await Adjustment.filter(id=adjustment_id, program_id=program_id).first()
    if adjustment is None:  # a key from before this release, first used in another program
        raise idempotency_key_reused()
    return {**serialize_adjustment(adjustment), "replayed": True}


async def create_adjustment(
    *,
    program_id: int,
    promoter_id: int,
    amount: str,
    currency: str,
    reason_code: str,
    memo: str | None,
    idempotency_key: str,
    actor: Principal,
    request_id: str | None = None,
) -> dict[str, Any]:
    """Credit or debit one promoter's available balance; a replayed key returns the first."""
    expected = await program_currency(program_id)
    draft = check_adjustment(
        promoter_id=promoter_id,
        amount=amount,
        currency=currency,
        program_currency=expected,
        reason_code=reason_code,
        memo=memo,
    )
    if await Adjustment.filter(program_id=program_id, idempotency_key=idempotency_key).exists():
        replay = await _replayed(program_id, idempotency_key, draft)
        return {**serialize_adjustment(replay), "replayed": True}
    try:
        async with in_transaction() as conn:
            await _check_promoter_in_program(conn, promoter_id=promoter_id, program_id=program_id)
            adjustment = await apply_adjustment(
                conn,
                program_id=program_id,
                draft=draft,
                created_by=actor.id,
                idempotency_key=idempotency_key,
            )
            await record_action(
                actor=actor,
                action="adjustment.create",
                target_kind="adjustment",
                target_id=adjustment.id,
                program_id=program_id,
                details={
                    "promoter_id": promoter_id,
                    "amount": str(draft.amount),
                    "currency": draft.currency,
                    "reason_code": draft.reason_code.value,
                    "memo": draft.memo,
                },
                request_id=request_id,
                using_db=conn,
            )
    except IntegrityError:
        # A concurrent request with the same key committed first.
        replay = await _replayed(program_id, idempotency_key, draft)
        return {**serialize_adjustment(replay), "replayed": True}
    return {**serialize_adjustment(adjustment), "replayed": False}


def _refused(errors: list[RowError], row_count: int) -> ValidationFailed:
    ordered = sorted(errors, key=lambda e: (e.row, e.field))
    return ValidationFailed(
        f"the upload was refused: {len(ordered)} problem(s), nothing was applied",
        code="adjustment_upload_invalid",
        fields={
            "row_count": row_count,
            "error_count": len(ordered),
            "errors": [e.to_dict() for e in ordered[:MAX_REPORTED_ERRORS]],
        },
    )


def _repeated(batch_id: int | None) -> Conflict:
    return Conflict(
        "this file was already applied",
        code="adjustment_upload_repeated",
        fields={"batch_id": batch_id},
    )


def _decode(content: bytes) -> str:
    if len(content) > MAX_UPLOAD_BYTES:
        raise ValidationFailed(
            "the file is too large",
            code="upload_too_large",
            fields={"file": f"at most {MAX_UPLOAD_BYTES} bytes"},
        )
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationFailed(
            "the file is not UTF-8 text", code="upload_not_utf8", fields={"file": "UTF-8 CSV"}
        ) from None


async def upload_adjustments(
    *,
    program_id: int,
    filename: str,
    content: bytes,
    actor: Principal,
    request_id: str | None = None,
) -> dict[str, Any]:
    """Apply every adjustment of a CSV upload, or none with a per-row error report."""
    text = _decode(content)
    currency = await program_currency(program_id)
    drafts, errors = parse_adjustment_csv(text, program_currency=currency)
    row_count = len(drafts) + len({e.row for e in errors if e.row > 1})
    digest = hashlib.sha256(content).hexdigest()
    try:
        async with in_transaction() as conn:
            ids = {d.promoter_id for d in drafts}
            known = await Promoter.filter(id__in=list(ids), program_id=program_id).using_db(conn)
            errors += missing_promoter_errors(drafts, {p.id for p in known})
            if errors:
                raise _refused(errors, row_count)
            applied = await AdjustmentBatch.filter(
                program_id=program_id, content_sha256=digest
            ).using_db(conn)
            if applied:
                raise _repeated(applied[0].id)
            batch = await AdjustmentBatch.create(
                program_id=program_id,
                filename=filename[:255],
                content_sha256=digest,
                row_count=len(drafts),
                currency=currency,
                total_amount=sum((d.amount for d in drafts), Decimal("0.00")),
                created_by=actor.id,
                using_db=conn,
            )
            for draft in drafts:
                await apply_adjustment(
                    conn,
                    program_id=program_id,
                    draft=draft,
                    created_by=actor.id,
                    idempotency_key=f"batch:{batch.id}:row:{draft.row}",
                    batch_id=batch.id,
                )
            await record_action(
                actor=actor,
                action="adjustment_batch.apply",
                target_kind="adjustment_batch",
                target_id=batch.id,
                program_id=program_id,
                details={
                    "filename": batch.filename,
                    "row_count": batch.row_count,
                    "total_amount": str(batch.total_amount),
                    "currency": currency,
                    "content_sha256": digest,
                },
                request_id=request_id,
                using_db=conn,
            )
    except IntegrityError:
        # A concurrent upload of the same file committed first.
        raise _repeated(None) from None
    return _serialize_batch(batch)


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def list_adjustments(
    *,
    program_id: int,
    promoter_id: int | None = None,
    reason_code: str | None = None,
    batch_id: int | None = None,
    at_from: datetime | None = None,
    at_to: datetime | None = None,
    cursor: int | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    """A page of a program's adjustments, newest first, with filters (`at_to` exclusive)."""
    check_page_limit(limit)
    if reason_code is not None and reason_code not in set(ReasonCode):
        raise ValidationFailed(
            "unknown reason code", code="invalid_query", fields={"reason_code": reason_code}
        )
    await program_currency(program_id)
    query = Adjustment.filter(program_id=program_id)
    if promoter_id is not None:
        query = query.filter(promoter_id=promoter_id)
    if reason_code is not None:
        query = query.filter(reason_code=reason_code)
    if batch_id is not None:
        query = query.filter(batch_id=batch_id)
    if at_from is not None:
        query = query.filter(created_at__gte=_utc(at_from))
    if at_to is not None:
        query = query.filter(created_at__lt=_utc(at_to))
    if cursor is not None:
        query = query.filter(id__lt=cursor)
    rows = await query.order_by("-id").limit(limit)
    return {
        "items": [serialize_adjustment(a) for a in rows],
        "next_cursor": next_cursor([a.id for a in rows], limit),
    }


async def get_batch(*, program_id: int, batch_id: int) -> dict[str, Any]:
    """One applied upload of a program."""
    batch = await AdjustmentBatch.filter(id=batch_id, program_id=program_id).first()
    if batch is None:
        raise NotFound("no such adjustment batch", code="adjustment_batch_not_found")
    return _serialize_batch(batch)
