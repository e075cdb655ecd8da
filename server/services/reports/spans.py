"""Span rows (docs/reports.md#spans): per aligned span of 2 to 64 local days, the sums and
visitor sketches of its two halves combined, recomputed whenever one of its days is."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from server.domain.reports.ranges import ReportRange, local_midnight
from server.domain.reports.sketch import union
from server.domain.reports.spans import Span, cover, halves, spans_holding
from server.models import ReportSketch, ReportSpanRollup, ReportSpanSketch
from server.services.reports.summing import Source, insert_all, insert_sums

# Rows of one bucket are read as [bucket, bucket + HOUR): equality on instants differs by
# backend (MariaDB compares DATETIME values, SQLite their text).
HOUR = timedelta(hours=1)
# A range of whole local days as read: (UTC start of its first day, number of days) pieces.
Pieces = Sequence[tuple[datetime, int]]


def pieces(r: ReportRange, tz: tzinfo) -> list[tuple[datetime, int]]:
    """The days and spans making exactly the local days of a range."""
    return [(local_midnight(first, tz), days) for first, days in cover(r.first, r.last)]


def piece_filter(pieces_: Pieces, *, column: str) -> list[tuple[bool, str, list[Any]]]:
    """WHERE conditions selecting the pieces' rows: (span table?, condition, its values) for
    the day table and the span table that have pieces."""
    days = [(start, n) for start, n in pieces_ if n == 1]
    spans = [(start, n) for start, n in pieces_ if n > 1]
    day_sql = " OR ".join(f"({column} >= ? AND {column} < ?)" for _ in days)
    span_sql = " OR ".join(f"({column} >= ? AND {column} < ? AND days = ?)" for _ in spans)
    found = []
    if days:
        found.append((False, day_sql, [v for start, _ in days for v in (start, start + HOUR)]))
    if spans:
        found.append((True, span_sql, [v for s, n in spans for v in (s, s + HOUR, n)]))
    return found


async def _child_rows(
    conn: BaseDBAsyncClient, program_id: int, child: Span, tz: tzinfo
) -> list[dict[str, Any]]:
    """A half's visitor sketches per dimension value."""
    first, days = child
    model: Any = ReportSketch if days == 1 else ReportSpanSketch
    query = model.filter(program_id=program_id, day=local_midnight(first, tz))
    if days > 1:
        query = query.filter(days=days)
    return await query.using_db(conn).values("dimension", "value", "registers")


def _child_source(program_id: int, child: Span, tz: tzinfo) -> Source:
    """Where a half's rollup rows are: a day's in the day table, a span's in the span table."""
    first, days = child
    start = local_midnight(first, tz)
    where = "program_id = ? AND bucket >= ? AND bucket < ?"
    values: list[Any] = [program_id, start, start + HOUR]
    if days == 1:
        return "report_daily_rollups", where, values
    return "report_span_rollups", f"{where} AND days = ?", [*values, days]


async def _recompute_span(
    conn: BaseDBAsyncClient, *, program_id: int, span: Span, tz: tzinfo
) -> None:
    first, days = span
    start = local_midnight(first, tz)
    texts: dict[tuple[str, str], list[str]] = defaultdict(list)
    for child in halves(span):
        for row in await _child_rows(conn, program_id, child, tz):
            texts[(row["dimension"], row["value"])].append(row["registers"])
    await (
        ReportSpanRollup.filter(program_id=program_id, bucket=start, days=days)
        .using_db(conn)
        .delete()
    )
    await (
        ReportSpanSketch.filter(program_id=program_id, day=start, days=days).using_db(conn).delete()
    )
    await insert_sums(
        conn,
        table="report_span_rollups",
        key={"program_id": program_id, "bucket": start, "days": days},
        sources=[_child_source(program_id, child, tz) for child in halves(span)],
    )
    await insert_all(
        conn,
        ReportSpanSketch,
        [
            {
                "program_id": program_id,
                "day": start,
                "days": days,
                "dimension": dimension,
                "value": value,
                # One half alone is kept as it is: the union of one sketch is itself.
                "registers": found[0] if len(found) == 1 else union(found).encode(),
            }
            for (dimension, value), found in sorted(texts.items())
        ],
    )


async def recompute_spans(
    conn: BaseDBAsyncClient, *, program_id: int, days: Iterable[date], tz: tzinfo
) -> None:
    """Recompute every span holding one of these local days from its halves, shortest
    first (the caller holds the program's report state lock and has recomputed the days)."""
    for span in spans_holding(days):
        await _recompute_span(conn, program_id=program_id, span=span, tz=tz)
