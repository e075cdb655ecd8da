"""Monthly statements of promoters, their CSVs, and the legal name and tax id they are
issued under (masked for everyone but finance and admin).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tortoise.transactions import in_transaction

from server.auth import Principal
from server.db import connection
from server.domain.errors import NotFound, ValidationFailed
from server.domain.ledger.statements import (
    MovementSums,
    Period,
    StatementFigures,
    compute_statement,
    mask_tax_id,
    month_period,
)
from server.domain.money import money_text
from server.domain.programs.settings import DEFAULT_TIME_ZONE
from server.models import LedgerEntry, Program, Promoter, PromoterBalance
from server.services.access.audit import record_action
from server.services.access.sealing import seal, unseal
from server.services.csv_export import CsvExport, keyset_chunks
from server.services.ledger.postings import money_units, sql_rows, units_value

# Promoters per chunk of the program-wide export.
STATEMENT_CHUNK = 500
TAX_ID_PATTERN = re.compile(r"^[0-9A-Za-z\-]{4,64}$")
FIGURE_COLUMNS = (
    "opening_available",
    "opening_on_hold",
    "opening_owed",
    "gross",
    "reversals",
    "adjustments",
    "fees",
    "tax_withheld",
    "net",
    "paid_out",
    "closing_available",
    "closing_on_hold",
    "closing_owed",
)
PROGRAM_HEADER = (
    "program_id",
    "period",
    "currency",
    "promoter_id",
    "legal_name",
    "tax_id",
    *FIGURE_COLUMNS,
)
LINE_HEADER = ("entry_id", "created_at", "kind", "account", "amount", "reference", "memo")


def _zone(program: Program) -> ZoneInfo:
    try:
        return ZoneInfo(getattr(program, "time_zone", None) or DEFAULT_TIME_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TIME_ZONE)


async def _program(program_id: int) -> Program:
    program = await Program.filter(id=program_id).first()
    if program is None:
        raise NotFound("no such program", code="program_not_found")
    return program


async def _grouped_sums(
    promoter_ids: Sequence[int], currency: str, start: datetime | None, end: datetime
) -> dict[int, MovementSums]:
    """Sums of entries per promoter and (kind, account), created in [start, end)."""
    if not promoter_ids:
        return {}
    conn = connection()
    marks = ",".join("?" for _ in promoter_ids)
    window = "created_at < ?" if start is None else "created_at >= ? AND created_at < ?"
    bounds = (
        [end.astimezone(UTC)] if start is None else [start.astimezone(UTC), end.astimezone(UTC)]
    )
    rows = await sql_rows(
        conn,
        f"SELECT promoter_id, kind, account, SUM({money_units(conn, 'amount')}) AS total"
        f" FROM ledger_entries WHERE promoter_id IN ({marks}) AND currency = ? AND {window}"
        " GROUP BY promoter_id, kind, account",
        [*promoter_ids, currency, *bounds],
    )
    sums: dict[int, dict[tuple[str, str], Decimal]] = defaultdict(dict)
    for row in rows:
        sums[int(row["promoter_id"])][(row["kind"], row["account"])] = units_value(
            conn, row["total"]
        )
    return sums


async def _figures(
    promoter_ids: Sequence[int], currency: str, period: Period
) -> dict[int, StatementFigures]:
    before = await _grouped_sums(promoter_ids, currency, None, period.start)
    during = await _grouped_sums(promoter_ids, currency, period.start, period.end)
    return {
        pid: compute_statement(
            currency=currency, before=before.get(pid, {}), during=during.get(pid, {})
        )
        for pid in promoter_ids
    }


def _profile(promoter: Promoter, *, reveal_tax_id: bool) -> dict[str, Any]:
    tax_id = unseal(promoter.tax_id)
    return {
        "promoter_id": promoter.id,
        "legal_name": promoter.legal_name,
        "tax_id": tax_id if reveal_tax_id else mask_tax_id(tax_id),
    }


async def _audit_reveal(
    reader: Principal | None, request_id: str | None, *, program_id: int, promoter_id: int | None
) -> bool:
    """Record that `reader` is shown plain tax ids; True when there is a reader to show them to."""
    if reader is None:
        return False
    await record_action(
        actor=reader,
        action="promoter.tax_id_revealed",
        target_kind="promoter" if promoter_id else "program",
        target_id=promoter_id or program_id,
        program_id=program_id,
        request_id=request_id,
    )
    return True


async def _statement(
    promoter: Promoter, period_label: str, *, reveal_tax_id: bool
) -> dict[str, Any]:
    program = await _program(promoter.program_id)  # type: ignore[attr-defined]
    zone = _zone(program)
    period = month_period(period_label, zone)
    figures = (await _figures([promoter.id], program.currency, period))[promoter.id]
    return {
        "program_id": program.id,
        **_profile(promoter, reveal_tax_id=reveal_tax_id),
        "period": {
            "month": period.label,
            "time_zone": str(zone),
            "start": period.start,
            "end": period.end,
        },
        **figures.to_dict(),
    }


async def _own_promoter(user_id: int, program_id: int) -> Promoter:
    promoter = await Promoter.filter(user_id=user_id, program_id=program_id).order_by("id").first()
    if promoter is None:
        raise NotFound("you are not a promoter of this program", code="promoter_not_found")
    return promoter


async def _any_promoter(promoter_id: int) -> Promoter:
    promoter = await Promoter.filter(id=promoter_id).first()
    if promoter is None:
        raise NotFound("no such promoter", code="promoter_not_found")
    return promoter


async def my_statement(*, user_id: int, program_id: int, period: str) -> dict[str, Any]:
    """The calling promoter's statement for a month of a program (tax id masked)."""
    promoter = await _own_promoter(user_id, program_id)
    return await _statement(promoter, period, reveal_tax_id=False)


async def promoter_statement(
    *,
    promoter_id: int,
    period: str,
    reader: Principal | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """Any promoter's statement for a month (back-office): the tax id plain to `reader`, audited."""
    promoter = await _any_promoter(promoter_id)
    statement = await _statement(promoter, period, reveal_tax_id=False)
    program_id = promoter.program_id  # type: ignore[attr-defined]
    if await _audit_reveal(reader, request_id, program_id=program_id, promoter_id=promoter.id):
        statement["tax_id"] = unseal(promoter.tax_id)
    return statement


async def _lines(
    promoter_id: int, currency: str, start: datetime, end: datetime
) -> AsyncIterator[list[Any]]:
    query = LedgerEntry.filter(
        promoter_id=promoter_id,
        currency=currency,
        created_at__gte=start.astimezone(UTC),
        created_at__lt=end.astimezone(UTC),
    )
    async for chunk in keyset_chunks(query, oldest_first=True):
        for entry in chunk:
            yield [
                entry.id,
                entry.created_at,
                entry.kind,
                entry.account,
                money_text(entry.amount, currency),
                entry.reference,
                entry.memo,
            ]


async def _statement_rows(statement: dict[str, Any]) -> AsyncIterator[Sequence[Any]]:
    summary: list[tuple[str, Any]] = [
        ("program_id", statement["program_id"]),
        ("promoter_id", statement["promoter_id"]),
        ("legal_name", statement["legal_name"]),
        ("tax_id", statement["tax_id"]),
        ("period", statement["period"]["month"]),
        ("time_zone", statement["period"]["time_zone"]),
        ("currency", statement["currency"]),
        *_figure_cells(statement),
    ]
    for name, value in summary:
        yield [name, value]
    yield []
    yield LINE_HEADER
    start, end = statement["period"]["start"], statement["period"]["end"]
    async for line in _lines(statement["promoter_id"], statement["currency"], start, end):
        yield line


def _figure_cells(statement: dict[str, Any]) -> list[tuple[str, Any]]:
    opening, closing = statement["opening"], statement["closing"]
    values = {
        "opening_available": opening["available"],
        "opening_on_hold": opening["on_hold"],
        "opening_owed": opening["owed"],
        "closing_available": closing["available"],
        "closing_on_hold": closing["on_hold"],
        "closing_owed": closing["owed"],
    }
    return [(name, values.get(name, statement.get(name))) for name in FIGURE_COLUMNS]


def statement_csv(statement: dict[str, Any]) -> CsvExport:
    """A statement as CSV: `item,value` summary rows, a blank row, then the period's entries."""
    name = f"statement-{statement['program_id']}-{statement['promoter_id']}-"
    return CsvExport(
        filename=name + f"{statement['period']['month']}.csv",
        header=("item", "value"),
        rows=_statement_rows(statement),
    )


async def _program_rows(
    program: Program, period: Period, *, reveal_tax_id: bool
) -> AsyncIterator[Sequence[Any]]:
    balances = PromoterBalance.filter(program_id=program.id, currency=program.currency)
    async for chunk in keyset_chunks(balances, chunk_size=STATEMENT_CHUNK, oldest_first=True):
        ids = [b.promoter_id for b in chunk]
        promoters = {p.id: p for p in await Promoter.filter(id__in=ids)}
        figures = await _figures(ids, program.currency, period)
        for pid in ids:
            statement = {
                **_profile(promoters[pid], reveal_tax_id=reveal_tax_id),
                **figures[pid].to_dict(),
            }
            yield [
                program.id,
                period.label,
                program.currency,
                pid,
                statement["legal_name"],
                statement["tax_id"],
                *(value for _, value in _figure_cells(statement)),
            ]


async def program_statements_export(
    *,
    program_id: int,
    period: str,
    reader: Principal | None = None,
    request_id: str | None = None,
) -> CsvExport:
    """Every promoter with a balance in the program: one statement row each, streamed; tax ids
    plain to `reader`, audited once for the export."""
    program = await _program(program_id)
    month = month_period(period, _zone(program))
    reveal_tax_id = await _audit_reveal(reader, request_id, program_id=program.id, promoter_id=None)
    return CsvExport(
        filename=f"statements-{program.id}-{month.label}.csv",
        header=PROGRAM_HEADER,
        rows=_program_rows(program, month, reveal_tax_id=reveal_tax_id),
    )


def _clean_profile(legal_name: str | None, tax_id: str | None) -> tuple[str | None, str | None]:
    name = (legal_name or "").strip() or None
    number = (tax_id or "").strip().upper() or None
    errors: dict[str, str] = {}
    if name is not None and len(name) > 128:
        errors["legal_name"] = "at most 128 characters"
    if number is not None and not TAX_ID_PATTERN.match(number):
        errors["tax_id"] = "4 to 64 letters, digits or dashes"
    if errors:
        raise ValidationFailed("invalid tax profile", code="invalid_tax_profile", fields=errors)
    return name, number


async def _set_profile(
    promoter: Promoter,
    legal_name: str | None,
    tax_id: str | None,
    *,
    actor: Principal,
    request_id: str | None,
) -> dict[str, Any]:
    name, number = _clean_profile(legal_name, tax_id)
    async with in_transaction() as conn:
        await (
            Promoter.filter(id=promoter.id)
            .using_db(conn)
            .update(legal_name=name, tax_id=seal(number))
        )
        await record_action(
            actor=actor,
            action="promoter.tax_profile",
            target_kind="promoter",
            target_id=promoter.id,
            program_id=promoter.program_id,  # type: ignore[attr-defined]
            details={"legal_name": name, "tax_id": mask_tax_id(number)},
            request_id=request_id,
            using_db=conn,
        )
    return {"promoter_id": promoter.id, "legal_name": name, "tax_id": mask_tax_id(number)}


async def set_my_tax_profile(
    *,
    user_id: int,
    program_id: int,
    legal_name: str | None,
    tax_id: str | None,
    actor: Principal,
    request_id: str | None = None,
) -> dict[str, Any]:
    """The calling promoter sets the legal name and tax id their statements carry."""
    promoter = await _own_promoter(user_id, program_id)
    return await _set_profile(promoter, legal_name, tax_id, actor=actor, request_id=request_id)


async def my_tax_profile(*, user_id: int, program_id: int) -> dict[str, Any]:
    """The calling promoter's legal name and masked tax id."""
    promoter = await _own_promoter(user_id, program_id)
    return _profile(promoter, reveal_tax_id=False)


async def set_promoter_tax_profile(
    *,
    promoter_id: int,
    legal_name: str | None,
    tax_id: str | None,
    actor: Principal,
    request_id: str | None = None,
) -> dict[str, Any]:
    """Finance sets a promoter's legal name and tax id (audited, tax id masked in the log)."""
    promoter = await _any_promoter(promoter_id)
    return await _set_profile(promoter, legal_name, tax_id, actor=actor, request_id=request_id)
