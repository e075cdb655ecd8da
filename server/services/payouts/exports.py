"""Finance exports: commissions, withdrawals and payout batches as streamed CSV, with the
filters of their list endpoints (bank numbers masked: a file travels further than a screen).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from typing import Any

from server import clock
from server.domain.money import money_text
from server.domain.payouts.withdrawals import mask_account_number
from server.domain.programs.document import rate_text
from server.models import PayoutBatch, PayoutItem, Site
from server.services.access.scope import within
from server.services.access.sealing import unseal
from server.services.commissions.filters import CommissionFilters, staff_commission_query
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
    ("payout_id", "payout_id"),
    ("category", "order_line__category"),
    ("site_id", "order__site_id"),
    ("site", "site"),
    ("channel_id", "order__channel_id"),
    ("campaign", "order__campaign"),
    ("tier", "promoter__tier"),
    ("promoter_name", "promoter_name"),
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
    # The commissions the withdrawal covers, by id, separated by ";".
    "commission_ids",
)
_WITHDRAWAL_READS = WITHDRAWAL_HEADER[:-1]
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
# Filled per chunk (`_add_sites`), not read by the query.
_COMMISSION_ADDED = ("site", "promoter_name")
_COMMISSION_READS = (
    *(p for p in _COMMISSION_PATHS if p not in _COMMISSION_ADDED),
    "promoter__real_name",
    "promoter__user__nickname",
)


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


async def _add_commissions(chunk: list[dict[str, Any]]) -> None:
    ids = [row["id"] for row in chunk]
    covered: dict[int, list[str]] = {}
    items = (
        await PayoutItem.filter(withdrawal_id__in=ids, kind="commission")
        .order_by("withdrawal_id", "commission_id", "id")
        .values_list("withdrawal_id", "commission_id")
    )
    for withdrawal_id, commission_id in items:
        listed = covered.setdefault(withdrawal_id, [])
        if str(commission_id) not in listed:
            listed.append(str(commission_id))
    for row in chunk:
        row["commission_ids"] = ";".join(covered.get(row["id"], []))


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


async def _enriched(
    chunks: AsyncIterator[list[dict[str, Any]]],
    enrich: Callable[[list[dict[str, Any]]], Awaitable[None]],
) -> AsyncIterator[list[dict[str, Any]]]:
    """The chunks, each completed by `enrich` with what one more query per chunk reads."""
    async for chunk in chunks:
        await enrich(chunk)
        yield chunk


async def _add_sites(chunk: list[dict[str, Any]]) -> None:
    ids = {row["order__site_id"] for row in chunk if row["order__site_id"] is not None}
    domains = dict(await Site.filter(id__in=sorted(ids)).values_list("id", "domain")) if ids else {}
    for row in chunk:
        row["site"] = domains.get(row["order__site_id"])
        # The name the promoter gave when applying, else their WeChat nickname.
        row["promoter_name"] = row["promoter__real_name"] or row["promoter__user__nickname"]


def export_commissions(
    filters: CommissionFilters,
    *,
    programs: Collection[int] | None = None,
    cursor: int | None = None,
    limit: int | None = None,
) -> CsvExport:
    """Commissions with the staff list's filters, newest first; `limit` caps the rows."""
    query = staff_commission_query(filters, programs=programs, cursor=cursor)
    chunks = keyset_chunks(query, chunk_size=_chunk_size(limit), fields=_COMMISSION_READS)
    return CsvExport(
        filename=_filename("commissions"),
        header=COMMISSION_HEADER,
        rows=_rows(_enriched(chunks, _add_sites), _commission_row, limit),
    )


def _withdrawal_row(row: dict[str, Any]) -> list[Any]:
    return [
        mask_account_number(unseal(row[name]))
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
    chunks = keyset_chunks(query, chunk_size=_chunk_size(limit), fields=_WITHDRAWAL_READS)
    return CsvExport(
        filename=_filename("withdrawals"),
        header=WITHDRAWAL_HEADER,
        rows=_rows(_enriched(chunks, _add_commissions), _withdrawal_row, limit),
    )


def _batch_row(row: dict[str, Any]) -> list[Any]:
    return [_cell(name, row[name], row, BATCH_MONEY) for name in PAYOUT_BATCH_HEADER]


def export_payout_batches(
    *,
    program_id: int | None = None,
    programs: Collection[int] | None = None,
    cursor: int | None = None,
    limit: int | None = None,
) -> CsvExport:
    """Payout batches with the batch list's filter, newest first; `limit` caps the rows."""
    query = within(PayoutBatch.all(), programs)
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
