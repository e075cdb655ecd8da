"""Spend: staff record what the merchant spent per day on a sub-account, channel or campaign
(one at a time or a CSV file, all or nothing); reports read it as ROI's spend."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from tortoise.transactions import in_transaction

from server import clock
from server.auth import Principal
from server.domain.errors import ValidationFailed
from server.domain.money import read_decimal
from server.domain.pagination import check_page_limit, next_cursor
from server.domain.reports.ranges import EARLIEST_DAY, LATEST_DAY, ReportRange
from server.domain.reports.rollup import Dimension
from server.domain.reports.spend import SpendEntry, read_spend_csv, spend_errors
from server.models import Channel, Promoter, SpendRecord
from server.services.access.audit import record_action
from server.services.programs.settings import get_program
from server.services.reports.reads import Segment

# The dimensions spend is recorded by, and the column holding each.
SPEND_COLUMNS = {
    Dimension.PROMOTER: "promoter_id",
    Dimension.CHANNEL: "channel_id",
    Dimension.UTM_CAMPAIGN: "utm_campaign",
}


async def _check_targets(program_id: int, entries: list[SpendEntry]) -> None:
    """Every sub-account and channel named belongs to the program."""
    promoters = {e.promoter_id for e in entries if e.promoter_id is not None}
    channels = {e.channel_id for e in entries if e.channel_id is not None}
    known_promoters = set(
        await Promoter.filter(id__in=promoters, program_id=program_id).values_list("id", flat=True)
    )
    known_channels = set(
        await Channel.filter(id__in=channels, promoter__program_id=program_id).values_list(
            "id", flat=True
        )
    )
    errors = {f"sub_account_id {i}": "not in this program" for i in promoters - known_promoters}
    errors |= {f"channel_id {i}": "not in this program" for i in channels - known_channels}
    if errors:
        raise ValidationFailed("unknown spend target", code="unknown_spend_target", fields=errors)


async def record_spend(
    *,
    program_id: int,
    entries: list[SpendEntry],
    actor: Principal,
    request_id: str | None = None,
) -> list[SpendRecord]:
    """Record spend entries, all or none (audited)."""
    program = await get_program(program_id=program_id)
    for entry in entries:
        errors = spend_errors(entry, currency=program.currency)
        if not EARLIEST_DAY <= entry.day <= LATEST_DAY:
            errors["day"] = f"between {EARLIEST_DAY} and {LATEST_DAY}"
        if errors:
            raise ValidationFailed("invalid spend", code="invalid_spend", fields=errors)
    await _check_targets(program.id, entries)
    # One instant for the whole batch: an import's records are found again by it (replays).
    now = clock.now()
    async with in_transaction() as conn:
        records = [
            await SpendRecord.create(
                program_id=program.id,
                day=entry.day,
                promoter_id=entry.promoter_id,
                channel_id=entry.channel_id,
                utm_campaign=entry.utm_campaign,
                amount=entry.amount,
                currency=program.currency,
                note=entry.note,
                created_by=actor.id,
                created_at=now,
                using_db=conn,
            )
            for entry in entries
        ]
        total = sum((entry.amount for entry in entries), Decimal(0))
        await record_action(
            actor=actor,
            action="spend.record",
            target_kind="spend",
            target_id=records[0].id,
            program_id=program.id,
            details={"records": len(records), "total": str(total)},
            request_id=request_id,
            using_db=conn,
        )
    return records


async def import_spend_csv(
    *, program_id: int, text: str, actor: Principal, request_id: str | None = None
) -> list[SpendRecord]:
    """Record every row of a spend CSV, or none (each bad cell named by row and column)."""
    program = await get_program(program_id=program_id)
    entries = read_spend_csv(text, currency=program.currency)
    return await record_spend(
        program_id=program.id, entries=entries, actor=actor, request_id=request_id
    )


def parse_amount(*, text: str) -> Decimal:
    """A spend amount as sent (decimal text), or a coded 422."""
    amount = read_decimal(text)
    if amount is None:
        raise ValidationFailed("invalid amount", code="invalid_spend", fields={"amount": text})
    return amount


async def replay_spend(*, program_id: int, spend_id: int) -> list[SpendRecord]:
    """The record an earlier use of an idempotency key created."""
    return [await SpendRecord.get(id=spend_id, program_id=program_id)]


async def replay_import(*, program_id: int, first_id: int) -> list[SpendRecord]:
    """The records an earlier import under the same key created (same actor, same second)."""
    first = await SpendRecord.get(id=first_id, program_id=program_id)
    return await SpendRecord.filter(
        program_id=program_id,
        id__gte=first_id,
        created_by=first.created_by,
        created_at=first.created_at,
    ).order_by("id")


async def spend_total(*, program_id: int, segment: Segment, r: ReportRange) -> Decimal | None:
    """Spend of a segment over the range; None when none was recorded (or cannot be)."""
    query = SpendRecord.filter(program_id=program_id, day__gte=r.first, day__lte=r.last)
    if segment.dimension != Dimension.ALL:
        column = SPEND_COLUMNS.get(segment.dimension)
        if column is None:
            return None
        query = query.filter(**{column: segment.value})
    amounts = await query.values_list("amount", flat=True)
    return sum((Decimal(a) for a in amounts), Decimal(0)) if amounts else None


async def spend_by(*, program_id: int, dimension: Dimension, r: ReportRange) -> dict[str, Decimal]:
    """Spend of the range per sub-account, channel or campaign (empty for other dimensions)."""
    column = SPEND_COLUMNS.get(dimension)
    if column is None:
        return {}
    rows = await SpendRecord.filter(
        program_id=program_id, day__gte=r.first, day__lte=r.last, **{f"{column}__isnull": False}
    ).values(column, "amount")
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        totals[str(row[column])] += Decimal(row["amount"])
    return dict(totals)


async def list_spend(*, program_id: int, cursor: int | None, limit: int) -> dict[str, Any]:
    """A page of the program's spend records, newest first."""
    check_page_limit(limit)
    query = SpendRecord.filter(program_id=program_id)
    if cursor is not None:
        query = query.filter(id__lt=cursor)
    records = await query.order_by("-id").limit(limit)
    return {
        "items": [serialize_spend(record) for record in records],
        "next_cursor": next_cursor([record.id for record in records], limit),
    }


def serialize_spend(record: SpendRecord) -> dict[str, Any]:
    """A spend record as the API shows it."""
    return {
        "id": record.id,
        "program_id": record.program_id,
        "day": record.day.isoformat(),
        "sub_account_id": record.promoter_id,
        "channel_id": record.channel_id,
        "utm_campaign": record.utm_campaign,
        "amount": str(record.amount),
        "currency": record.currency,
        "note": record.note,
    }
