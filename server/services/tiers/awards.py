"""A program's milestone bonus awards as staff and finance read them: who got which bonus,
when, how much, and the ledger entry that paid it; a page at a time or as a CSV."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Sequence
from typing import Any

from tortoise.queryset import QuerySet

from server import clock
from server.domain.pagination import check_page_limit, next_cursor
from server.models import BonusAward
from server.services.access.scope import within
from server.services.csv_export import CHUNK_SIZE, CsvExport, keyset_chunks

# The columns of a listed award (and of its CSV, in this order).
AWARD_FIELDS = (
    "id",
    "program_id",
    "bonus_id",
    "bonus__name",
    "promoter_id",
    "promoter__real_name",
    "currency",
    "amount",
    "ledger_reference",
    "awarded_at",
)
CSV_HEADER = (
    "id",
    "program_id",
    "bonus_id",
    "bonus_name",
    "promoter_id",
    "promoter_name",
    "currency",
    "amount",
    "ledger_reference",
    "awarded_at",
)


def _awards(
    *,
    program_id: int | None,
    bonus_id: int | None,
    promoter_id: int | None,
    programs: Collection[int] | None = None,
) -> QuerySet[BonusAward]:
    query = within(BonusAward.all(), programs)
    if program_id is not None:
        query = query.filter(program_id=program_id)
    if bonus_id is not None:
        query = query.filter(bonus_id=bonus_id)
    if promoter_id is not None:
        query = query.filter(promoter_id=promoter_id)
    return query


def _item(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "program_id": row["program_id"],
        "bonus_id": row["bonus_id"],
        "bonus_name": row["bonus__name"],
        "promoter_id": row["promoter_id"],
        "promoter_name": row["promoter__real_name"],
        "currency": row["currency"],
        "amount": str(row["amount"]),
        "ledger_reference": row["ledger_reference"],
        "awarded_at": row["awarded_at"],
    }


async def list_program_awards(
    *,
    program_id: int,
    bonus_id: int | None,
    promoter_id: int | None,
    cursor: int | None,
    limit: int,
) -> dict[str, Any]:
    """A page of the program's bonus awards, newest first (optionally one bonus's or one
    promoter's), each with its bonus and promoter names and its ledger reference."""
    check_page_limit(limit)
    query = _awards(program_id=program_id, bonus_id=bonus_id, promoter_id=promoter_id)
    if cursor is not None:
        query = query.filter(id__lt=cursor)
    rows = await query.order_by("-id").limit(limit).values(*AWARD_FIELDS)
    return {
        "items": [_item(row) for row in rows],
        "next_cursor": next_cursor([row["id"] for row in rows], limit),
    }


async def _csv_rows(chunks: AsyncIterator[list[Any]]) -> AsyncIterator[Sequence[Any]]:
    async for chunk in chunks:
        for row in chunk:
            item = _item(row)
            yield [item[name] for name in CSV_HEADER]


def export_awards(
    *,
    program_id: int | None,
    bonus_id: int | None = None,
    promoter_id: int | None = None,
    programs: Collection[int] | None = None,
) -> CsvExport:
    """The awards the list's filters pick, newest first, as a streamed CSV."""
    query = _awards(
        program_id=program_id, bonus_id=bonus_id, promoter_id=promoter_id, programs=programs
    )
    chunks = keyset_chunks(query, chunk_size=CHUNK_SIZE, fields=AWARD_FIELDS)
    return CsvExport(
        filename=f"bonus-awards-{clock.now().strftime('%Y%m%d-%H%M%S')}.csv",
        header=CSV_HEADER,
        rows=_csv_rows(chunks),
    )
