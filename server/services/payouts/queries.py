"""Reading withdrawals (payouts): lists, details, history and lineage, for promoters and staff.

Bank numbers are masked except on a detail for finance, who pay by bank (each such read
audited).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from server.auth import Principal
from server.db import connection
from server.domain.errors import NotFound, ValidationFailed
from server.domain.money import money_text
from server.domain.pagination import check_page_limit, next_cursor
from server.domain.payouts.withdrawals import WithdrawalStatus, mask_account_number
from server.models import PayoutBatch, Withdrawal, WithdrawalChange
from server.services.access.audit import record_action
from server.services.access.scope import within
from server.services.access.sealing import unseal
from server.services.ledger.postings import as_decimal, sql_rows
from server.services.promoters.onboarding import get_active_promoter

Viewer = Literal["promoter", "staff", "finance"]


def _when(value: Any) -> Any:
    """A datetime read through raw SQL: text on SQLite, datetime on MySQL; ISO either way."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    return value


def serialize_withdrawal(withdrawal: Withdrawal, *, viewer: Viewer) -> dict[str, Any]:
    """A withdrawal as `viewer` may see it."""
    number = unseal(withdrawal.account_number)
    body: dict[str, Any] = {
        "id": withdrawal.id,
        "program_id": withdrawal.program_id,
        "promoter_id": withdrawal.promoter_id,
        "currency": withdrawal.currency,
        "amount": money_text(withdrawal.amount, withdrawal.currency),
        "fee": money_text(withdrawal.fee, withdrawal.currency),
        "tax": money_text(withdrawal.tax, withdrawal.currency),
        "net": money_text(withdrawal.net, withdrawal.currency),
        "deductions": withdrawal.deductions,
        "method": withdrawal.method,
        "status": withdrawal.status,
        "origin": withdrawal.origin,
        "batch_id": withdrawal.batch_id,
        "idempotency_key": withdrawal.idempotency_key,
        "account": {
            "real_name": withdrawal.real_name,
            "bank_name": withdrawal.bank_name,
            "account_name": withdrawal.account_name,
            "account_number": mask_account_number(number),
        },
        "reject_reason": withdrawal.reject_reason,
        "created_at": withdrawal.created_at,
        "approved_at": withdrawal.approved_at,
        "decided_at": withdrawal.decided_at,
        "paid_at": withdrawal.paid_at,
    }
    if withdrawal.status == "paying" and withdrawal.user_confirmation:
        # The mini-program passes these to wx.requestMerchantTransfer so the promoter can
        # accept the transfer WeChat Pay holds for them.
        body["confirmation"] = withdrawal.user_confirmation
    if viewer == "promoter":
        return body
    body["account"]["openid"] = withdrawal.openid
    body.update(
        {
            "transfer_phase": withdrawal.transfer_phase,
            "provider": withdrawal.provider,
            "out_bill_no": withdrawal.out_bill_no,
            "provider_reference": withdrawal.provider_reference,
            "failure_code": withdrawal.failure_code,
            "failure_message": withdrawal.failure_message,
            "attempts": withdrawal.attempts,
            "release_reason": withdrawal.release_reason,
            "offline_reference": withdrawal.offline_reference,
            "approved_by": withdrawal.approved_by,
            "decided_by": withdrawal.decided_by,
            "paid_by": withdrawal.paid_by,
            "transfer_started_at": withdrawal.transfer_started_at,
            "updated_at": withdrawal.updated_at,
        }
    )
    return body


async def payout_lineage(*, withdrawal_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """Each payout's items with the commission and order behind them, in one query."""
    if not withdrawal_ids:
        return {}
    conn = connection()
    ids = ",".join(str(int(i)) for i in withdrawal_ids)
    rows = await sql_rows(
        conn,
        "SELECT i.withdrawal_id AS withdrawal_id, i.id AS item_id, i.kind AS kind,"
        " i.amount AS amount, i.commission_id AS commission_id,"
        " i.ledger_entry_id AS ledger_entry_id, c.level AS level, c.status AS commission_status,"
        " c.amount AS commission_amount, c.order_line_id AS order_line_id,"
        " o.id AS order_id, o.external_id AS order_external_id, o.placed_at AS order_placed_at,"
        " w.currency AS currency"
        " FROM payout_items AS i JOIN withdrawals AS w ON w.id = i.withdrawal_id"
        " LEFT JOIN commissions AS c ON c.id = i.commission_id"
        " LEFT JOIN orders AS o ON o.id = c.order_id"
        f" WHERE i.withdrawal_id IN ({ids}) ORDER BY i.withdrawal_id, i.id",
    )
    lineage: dict[int, list[dict[str, Any]]] = {int(i): [] for i in withdrawal_ids}
    for row in rows:
        currency = row["currency"]
        lineage[int(row["withdrawal_id"])].append(
            {
                "item_id": int(row["item_id"]),
                "kind": row["kind"],
                "amount": money_text(as_decimal(row["amount"]), currency),
                "ledger_entry_id": row["ledger_entry_id"],
                "commission": None
                if row["commission_id"] is None
                else {
                    "id": int(row["commission_id"]),
                    "level": row["level"],
                    "status": row["commission_status"],
                    "amount": money_text(as_decimal(row["commission_amount"]), currency),
                    "order_line_id": row["order_line_id"],
                },
                "order": None
                if row["order_id"] is None
                else {
                    "id": int(row["order_id"]),
                    "external_id": row["order_external_id"],
                    "placed_at": _when(row["order_placed_at"]),
                },
            }
        )
    return lineage


async def _history(withdrawal_id: int, *, viewer: Viewer) -> list[dict[str, Any]]:
    changes = await WithdrawalChange.filter(withdrawal_id=withdrawal_id).order_by("id")
    return [
        {
            "action": c.action,
            "from_status": c.from_status,
            "to_status": c.to_status,
            "reason": c.reason,
            "at": c.at,
            **(
                {}
                if viewer == "promoter"
                else {"actor_kind": c.actor_kind, "actor_id": c.actor_id, "details": c.details}
            ),
        }
        for c in changes
    ]


async def _detail(withdrawal: Withdrawal, *, viewer: Viewer) -> dict[str, Any]:
    lineage = await payout_lineage(withdrawal_ids=[withdrawal.id])
    return {
        **serialize_withdrawal(withdrawal, viewer=viewer),
        "items": lineage[withdrawal.id],
        "history": await _history(withdrawal.id, viewer=viewer),
    }


async def withdrawal_detail(
    *,
    withdrawal_id: int,
    viewer: Viewer,
    reader: Principal | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """One withdrawal for back-office: lineage and history included; the bank account number
    plain only when finance `reader` asks (audited)."""
    withdrawal = await Withdrawal.filter(id=withdrawal_id).first()
    if withdrawal is None:
        raise NotFound("no such withdrawal", code="withdrawal_not_found")
    detail = await _detail(withdrawal, viewer=viewer)
    if viewer == "finance" and reader is not None and withdrawal.account_number:
        await record_action(
            actor=reader,
            action="withdrawal.account_number_revealed",
            target_kind="withdrawal",
            target_id=withdrawal.id,
            program_id=withdrawal.program_id,
            request_id=request_id,
        )
        detail["account"]["account_number"] = unseal(withdrawal.account_number)
    return detail


async def my_withdrawal(*, user_id: int, program_id: int, withdrawal_id: int) -> dict[str, Any]:
    """One of the calling promoter's withdrawals, with lineage; anyone else's is not found."""
    promoter = await get_active_promoter(user_id=user_id, program_id=program_id)
    withdrawal = await Withdrawal.filter(id=withdrawal_id, promoter_id=promoter.id).first()
    if withdrawal is None:
        raise NotFound("no such withdrawal", code="withdrawal_not_found")
    return await _detail(withdrawal, viewer="promoter")


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def withdrawal_query(
    *,
    program_id: int | None = None,
    programs: Collection[int] | None = None,
    promoter_id: int | None = None,
    status: str | None = None,
    method: str | None = None,
    origin: str | None = None,
    batch_id: int | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
) -> Any:
    """The filtered withdrawals (a queryset), for pages and exports alike."""
    if status is not None and status not in set(WithdrawalStatus):
        raise ValidationFailed("unknown status", code="invalid_status", fields={"status": status})
    query = within(Withdrawal.all(), programs)
    for name, value in (
        ("program_id", program_id),
        ("promoter_id", promoter_id),
        ("status", status),
        ("method", method),
        ("origin", origin),
        ("batch_id", batch_id),
    ):
        if value is not None:
            query = query.filter(**{name: value})
    if created_from is not None:
        query = query.filter(created_at__gte=_utc(created_from))
    if created_to is not None:
        query = query.filter(created_at__lt=_utc(created_to))
    return query


async def list_withdrawals(
    *, viewer: Viewer = "staff", cursor: int | None = None, limit: int = 50, **filters: Any
) -> dict[str, Any]:
    """A page of withdrawals, newest first (back-office)."""
    check_page_limit(limit)
    query = withdrawal_query(**filters)
    if cursor is not None:
        query = query.filter(id__lt=cursor)
    rows = await query.order_by("-id").limit(limit)
    return {
        "items": [serialize_withdrawal(w, viewer=viewer) for w in rows],
        "next_cursor": next_cursor([w.id for w in rows], limit),
    }


async def my_withdrawals(
    *,
    user_id: int,
    program_id: int,
    status: str | None = None,
    cursor: int | None = None,
    limit: int = 20,
) -> dict[str, Any]:
    """The calling promoter's withdrawals in a program, newest first."""
    promoter = await get_active_promoter(user_id=user_id, program_id=program_id)
    return await list_withdrawals(
        viewer="promoter", promoter_id=promoter.id, status=status, cursor=cursor, limit=limit
    )


def serialize_batch(batch: PayoutBatch) -> dict[str, Any]:
    return {
        "id": batch.id,
        "program_id": batch.program_id,
        "currency": batch.currency,
        "trigger": batch.trigger,
        "period_key": batch.period_key,
        "created_by": batch.created_by,
        "withdrawal_count": batch.withdrawal_count,
        "total_amount": money_text(batch.total_amount, batch.currency),
        # Left out while on fraud hold: paid by a later batch once staff lift the hold.
        "held_promoter_ids": list(batch.held_promoter_ids or []),
        "created_at": batch.created_at,
    }


async def list_batches(
    *,
    program_id: int | None = None,
    programs: Collection[int] | None = None,
    cursor: int | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    """A page of payout batches, newest first."""
    check_page_limit(limit)
    query = within(PayoutBatch.all(), programs)
    if program_id is not None:
        query = query.filter(program_id=program_id)
    if cursor is not None:
        query = query.filter(id__lt=cursor)
    rows = await query.order_by("-id").limit(limit)
    return {
        "items": [serialize_batch(b) for b in rows],
        "next_cursor": next_cursor([b.id for b in rows], limit),
    }


async def batch_detail(*, batch_id: int, viewer: Viewer = "staff") -> dict[str, Any]:
    """A batch with its withdrawals (each with its lineage) and a count per status."""
    batch = await PayoutBatch.filter(id=batch_id).first()
    if batch is None:
        raise NotFound("no such payout batch", code="payout_batch_not_found")
    withdrawals = await Withdrawal.filter(batch_id=batch.id).order_by("id")
    lineage = await payout_lineage(withdrawal_ids=[w.id for w in withdrawals])
    by_status: dict[str, int] = {}
    for w in withdrawals:
        by_status[w.status] = by_status.get(w.status, 0) + 1
    return {
        **serialize_batch(batch),
        "by_status": by_status,
        "paid_total": money_text(
            sum((w.amount for w in withdrawals if w.status == "paid"), Decimal(0)), batch.currency
        ),
        "withdrawals": [
            {**serialize_withdrawal(w, viewer=viewer), "items": lineage[w.id]} for w in withdrawals
        ],
    }
