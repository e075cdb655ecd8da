"""Reading rollups: summed figures per range, bucket or dimension value, and unique visitor
counts (COUNT DISTINCT over report_visitors), on SQLite and MariaDB alike."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from server.db import connection, is_mysql
from server.domain.instants import stored_instant
from server.domain.reports.metrics import INTEGER_COLUMNS, ROLLUP_COLUMNS, Sums
from server.domain.reports.rollup import ALL_VALUE, Dimension
from server.domain.reports.sketch import union
from server.models import ReportSketch
from server.services.ledger.postings import sql_rows
from server.services.reports.spans import Pieces, piece_filter

# The report_visitors column of each dimension that has unique visitors.
VISITOR_COLUMNS = {
    Dimension.SITE: "site_id",
    Dimension.CHANNEL: "channel_id",
    Dimension.UTM_SOURCE: "utm_source",
    Dimension.UTM_MEDIUM: "utm_medium",
    Dimension.UTM_CAMPAIGN: "utm_campaign",
    Dimension.REACHED_BY: "reached_by",
    Dimension.PROMOTER: "promoter_id",
}
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Segment:
    """One dimension value a report is narrowed to (the totals when dimension is all)."""

    dimension: Dimension = Dimension.ALL
    value: str = ALL_VALUE


def cell(conn: BaseDBAsyncClient, column: str, *, summed: bool = False) -> str:
    """A rollup column as selected: exact cents on SQLite, which keeps DECIMAL as text and
    would sum (or sort) it as floats; read back by `sums_of`."""
    inner = column
    if column not in INTEGER_COLUMNS and not is_mysql(conn):
        inner = f"CAST(ROUND({column} * 100) AS INTEGER)"
    return f"{f'SUM({inner})' if summed else inner} AS {column}"


def _sum(conn: BaseDBAsyncClient, column: str) -> str:
    return cell(conn, column, summed=True)


def sums_of(conn: BaseDBAsyncClient, row: dict[str, Any]) -> Sums:
    """A row's rollup columns as sums: exact cents on SQLite (see `cell`), DECIMAL on MySQL."""
    mysql = is_mysql(conn)
    values: dict[str, Any] = {}
    for column in ROLLUP_COLUMNS:  # built at once: a breakdown reads hundreds of rows
        raw = row.get(column) or 0
        if column in INTEGER_COLUMNS:
            values[column] = int(raw)
        elif mysql:
            values[column] = Decimal(raw).quantize(CENT)
        else:
            values[column] = (Decimal(int(raw)) * CENT).quantize(CENT)
    return Sums(values=values)


async def summed(
    *,
    program_id: int,
    dimension: Dimension,
    start: datetime,
    end: datetime,
    value: str | None = None,
    group: str | None = None,
    daily: bool = False,
) -> dict[Any, Sums]:
    """Rollup sums of one dimension in [start, end), whole or by "value" or "bucket"."""
    conn = connection()
    where = "program_id = ? AND dimension = ? AND bucket >= ? AND bucket < ?"
    values: list[Any] = [program_id, dimension.value, start, end]
    if value is not None:
        where += " AND value = ?"
        values.append(value)
    key = {"value": "value", "bucket": "bucket", None: None}[group]
    select = ", ".join(_sum(conn, column) for column in ROLLUP_COLUMNS)
    # Day rows for whole local days (a 24th of the rows), hourly rows otherwise.
    table = "report_daily_rollups" if daily else "report_rollups"
    text = f"SELECT {key + ' AS k, ' if key else ''}{select} FROM {table} WHERE {where}"
    if key:
        text += f" GROUP BY {key}"
    rows = await sql_rows(conn, text, values)
    result: dict[Any, Sums] = {}
    for row in rows:
        sums = sums_of(conn, row)
        if key or not sums.is_empty():
            result[_key(row.get("k"), group)] = sums
    return result


def _key(raw: Any, group: str | None) -> Any:
    if group != "bucket":
        return raw
    return stored_instant(raw)


def _piece_selects(
    program_id: int,
    dimension: Dimension,
    periods: Sequence[Pieces],
    value: str | None,
    *,
    columns: str,
    tables: tuple[str, str],
    column: str,
    extra: str = "",
) -> tuple[str, list[Any]]:
    """SELECTs of the day and span rows of each period's pieces (column p: the period's
    index) joined by UNION ALL, and their values."""
    narrow = (" AND value = ?" if value is not None else "") + extra
    parts, values = [], []
    for index, pieces in enumerate(periods):
        for is_span, condition, condition_values in piece_filter(pieces, column=column):
            parts.append(
                f"SELECT {index} AS p, {columns} FROM {tables[is_span]}"
                f" WHERE program_id = ? AND dimension = ?{narrow} AND ({condition})"
            )
            values += [program_id, dimension.value, *([value] if value is not None else [])]
            values += condition_values
    return " UNION ALL ".join(parts), values


async def spanned(
    *,
    program_id: int,
    dimension: Dimension,
    periods: Sequence[Pieces],
    value: str | None = None,
    by_value: bool = False,
) -> list[dict[Any, Sums]]:
    """Rollup sums of one dimension over each period of whole local days (their day and
    span rows), whole (key None) or by value: one statement, a few rows per value."""
    conn = connection()
    parts, values = _piece_selects(
        program_id,
        dimension,
        periods,
        value,
        columns="value, " + ", ".join(ROLLUP_COLUMNS),
        tables=("report_daily_rollups", "report_span_rollups"),
        column="bucket",
    )
    found: list[dict[Any, Sums]] = [{} for _ in periods]
    if not parts:
        return found
    select = ", ".join(_sum(conn, column) for column in ROLLUP_COLUMNS)
    key = "p, value" if by_value else "p"
    text = f"SELECT p, {'value AS k, ' if by_value else ''}{select} FROM ({parts}) AS t"
    for row in await sql_rows(conn, f"{text} GROUP BY {key}", values):
        sums = sums_of(conn, row)
        if by_value or not sums.is_empty():
            found[int(row["p"])][row.get("k")] = sums
    return found


def _visitor_filter(segment: Segment) -> tuple[str, list[Any]]:
    if segment.dimension == Dimension.ALL:
        return "", []
    column = VISITOR_COLUMNS.get(segment.dimension)
    if column is None:
        return " AND 1 = 0", []  # products, categories and levels have no visitors
    return f" AND {column} = ?", [segment.value]


async def unique_visitors(
    *, program_id: int, segment: Segment, start: datetime, end: datetime
) -> int:
    """Distinct non-bot visitors of one segment in [start, end)."""
    narrow, extra = _visitor_filter(segment)
    rows = await sql_rows(
        connection(),
        "SELECT COUNT(DISTINCT visitor_hash) AS n FROM report_visitors"
        f" WHERE program_id = ? AND bucket >= ? AND bucket < ?{narrow}",
        [program_id, start, end, *extra],
    )
    return int(rows[0]["n"] or 0)


async def unique_visitors_by(
    *, program_id: int, dimension: Dimension, start: datetime, end: datetime
) -> dict[str, int]:
    """Distinct non-bot visitors in [start, end) per value of one dimension."""
    column = VISITOR_COLUMNS.get(dimension)
    if column is None:
        return {}
    rows = await sql_rows(
        connection(),
        f"SELECT {column} AS v, COUNT(DISTINCT visitor_hash) AS n FROM report_visitors"
        f" WHERE program_id = ? AND bucket >= ? AND bucket < ? AND {column} IS NOT NULL"
        f" GROUP BY {column}",
        [program_id, start, end],
    )
    return {str(row["v"]): int(row["n"]) for row in rows}


async def unique_visitors_per_bucket(
    *, program_id: int, segment: Segment, spans: Sequence[tuple[datetime, datetime]]
) -> list[int]:
    """Distinct visitors of each span (series points: distinct per point, never summed)."""
    return [
        await unique_visitors(program_id=program_id, segment=segment, start=start, end=end)
        for start, end in spans
    ]


async def sketched_visitors(
    *,
    program_id: int,
    dimension: Dimension,
    start: datetime,
    end: datetime,
    value: str | None = None,
    group: str | None = None,
) -> dict[Any, int]:
    """Estimated unique visitors of the local days in [start, end) from their sketches,
    whole (key None) or by "value" or "day"."""
    query = ReportSketch.filter(
        program_id=program_id, dimension=dimension.value, day__gte=start, day__lt=end
    )
    if value is not None:
        query = query.filter(value=value)
    texts: dict[Any, list[str]] = {}
    for row in await query.values("day", "value", "registers"):
        texts.setdefault(row[group] if group else None, []).append(row["registers"])
    return {key: union(found).estimate() for key, found in texts.items()}


async def spanned_visitors(
    *,
    program_id: int,
    dimension: Dimension,
    periods: Sequence[Pieces],
    value: str | None = None,
    by_value: bool = False,
) -> list[dict[Any, int]]:
    """Estimated unique visitors over each period of whole local days from their day and
    span sketches, whole (key None) or by value: each value's few sketches merged once."""
    parts, values = _piece_selects(
        program_id,
        dimension,
        periods,
        value,
        columns="value, registers",
        tables=("report_sketches", "report_span_sketches"),
        column="day",
    )
    texts: list[dict[Any, list[str]]] = [{} for _ in periods]
    if parts:
        for row in await sql_rows(connection(), parts, values):
            key = row["value"] if by_value else None
            texts[int(row["p"])].setdefault(key, []).append(row["registers"])
    return [{key: union(found).estimate() for key, found in one.items()} for one in texts]
