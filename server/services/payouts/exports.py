"""Finance exports: commissions, withdrawals and payout batches as streamed CSV, with the
filters of their list endpoints (bank numbers masked: a file travels further than a screen).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from server import clock
from server.domain.money import money_text
from server.domain.payouts.withdrawals import mask_account_number
from server.domain.programs.document import rate_text
from server.models import PayoutBatch
from server.services.commissions.queries import staff_commission_query
from server.services.csv_export import CHUNK_SIZE, CsvExport, keyset_chunks
from server.services.payouts.queries import withdrawal_query

# (CSV column, ORM value path): rows are read as plain values, never as model objects.
COMMISSION_COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "id"),
    ("program_id", "program_id"),
    ("promoter_id", "promoter_id"),
    ("level", "level"),
    ("status", "status"),
    ("currency", "currency"),
    ("kind", "kind"),
    ("rate", "rate"),
    ("fixed_per_unit", "fixed_per_unit"),
    ("base_amount", "base_amount"),
    ("amount", "amount"),
    ("original_amount", "original_amount"),
    ("settled_amount", "settled_amount"),
    ("rule_source", "rule_source"),
    ("order_id", "order_id"),
    ("order_external_id", "order__external_id"),
    ("order_status", "order__status"),
    ("order_placed_at", "order__placed_at"),
    ("line_ref", "order_line__line_ref"),
    ("product_id", "order_line__product_id"),
    ("quantity", "quantity"),
    ("line_amount", "line_amount"),
    ("hold_reason", "hold_reason"),
    ("reject_reason", "reject_reason"),
    ("created_at", "created_at"),
    ("unlock_at", "unlock_at"),
    ("approved_at", "approved_at"),
    ("settled_at", "settled_at"),
    ("paid_at", "paid_at"),
)
WITHDRAWAL_HEADER = (
    "id",
    "program_id",
    "promoter_id",
    "currency",
    "amount",
    "fee",
    "tax",
    "net",
    "method",
    "status",
    "origin",
    "batch_id",
    "real_name",
    "bank_name",
    "account_name",
    "account_number",
    "provider",
    "provider_reference",
    "failure_code",
    "reject_reason",
    "created_at",
    "approved_at",
    "decided_at",
    "paid_at",
)
PAYOUT_BATCH_HEADER = (
    "id",
    "program_id",
    "currency",
    "trigger",
    "period_key",
    "withdrawal_count",
    "total_amount",
    "created_by",
    "created_at",
)
COMMISSION_HEADER = tuple(name for name, _ in COMMISSION_COLUMNS)
_COMMISSION_PATHS = tuple(path for _, path in COMMISSION_COLUMNS)


def _filename(kind: str) -> str:
    return f"{kind}-{clock.now().strftime('%Y%m%d-%H%M%S')}.csv"


# Shown with exactly the currency's minor-unit digits (a yen amount has none), like the API.
COMMISSION_MONEY = frozenset(
    {"fixed_per_unit", "base_amount", "amount", "original_amount", "settled_amount", "line_amount"}
)
WITHDRAWAL_MONEY = frozenset({"amount", "fee", "tax", "net"})
BATCH_MONEY = frozenset({"total_amount"})


def _cell(name: str, value: Any, row: dict[str, Any], money: frozenset[str]) -> Any:
    if value is None:
        return None
    if name in money:
        return money_text(value, row["currency"])
    if name == "rate":
        return rate_text(value)
    return value


def _commission_row(row: dict[str, Any]) -> list[Any]:
    return [_cell(name, row[path], row, COMMISSION_MONEY) for name, path in COMMISSION_COLUMNS]


async def _rows(
    chunks: AsyncIterator[list[Any]], to_row: Any, limit: int | None
) -> AsyncIterator[Sequence[Any]]:
    sent = 0
    async for chunk in chunks:
        for item in chunk:
            if limit is not None and sent >= limit:
                return
            yield to_row(item)
            sent += 1


def _chunk_size(limit: int | None) -> int:
    return min(CHUNK_SIZE, max(limit, 1)) if limit is not None else CHUNK_SIZE


def export_commissions(
    *,
    program_id: int | None = None,
    status: str | None = None,
    promoter_id: int | None = None,
    order_id: int | None = None,
    order_external_id: str | None = None,
    product_id: str | None = None,
    level: int | None = None,
    at_from: datetime | None = None,
    at_to: datetime | None = None,
    cursor: int | None = None,
    limit: int | None = None,
) -> CsvExport:
    """Commissions with the staff list's filters, newest first; `limit` caps the rows."""
    query = staff_commission_query(
        program_id=program_id,
        status=status,
        promoter_id=promoter_id,
        order_id=order_id,
        order_external_id=order_external_id,
        product_id=product_id,
        level=level,
        at_from=at_from,
        at_to=at_to,
        cursor=cursor,
    )
    chunks = keyset_chunks(query, chunk_size=_chunk_size(limit), fields=_COMMISSION_PATHS)
    return CsvExport(
        filename=_filename("commissions"),
        header=COMMISSION_HEADER,
        rows=_rows(chunks, _commission_row, limit),
    )


def _withdrawal_row(row: dict[str, Any]) -> list[Any]:
    return [
        mask_account_number(row[name])
        if name == "account_number"
        else _cell(name, row[name], row, WITHDRAWAL_MONEY)
        for name in WITHDRAWAL_HEADER
    ]


def export_withdrawals(
    *, cursor: int | None = None, limit: int | None = None, **filters: Any
) -> CsvExport:
    """Withdrawals with the staff list's filters, newest first; `limit` caps the rows."""
    query = withdrawal_query(**filters)
    if cursor is not None:
        query = query.filter(id__lt=cursor)
    chunks = keyset_chunks(query, chunk_size=_chunk_size(limit), fields=WITHDRAWAL_HEADER)
    return CsvExport(
        filename=_filename("withdrawals"),
        header=WITHDRAWAL_HEADER,
        rows=_rows(chunks, _withdrawal_row, limit),
    )


def _batch_row(row: dict[str, Any]) -> list[Any]:
    return [_cell(name, row[name], row, BATCH_MONEY) for name in PAYOUT_BATCH_HEADER]


def export_payout_batches(
    *, program_id: int | None = None, cursor: int | None = None, limit: int | None = None
) -> CsvExport:
    """Payout batches with the batch list's filter, newest first; `limit` caps the rows."""
    query = PayoutBatch.all()
    if program_id is not None:
        query = query.filter(program_id=program_id)
    if cursor is not None:
        query = query.filter(id__lt=cursor)
    chunks = keyset_chunks(query, chunk_size=_chunk_size(limit), fields=PAYOUT_BATCH_HEADER)
    return CsvExport(
        filename=_filename("payout-batches"),
        header=PAYOUT_BATCH_HEADER,
        rows=_rows(chunks, _batch_row, limit),
    )
