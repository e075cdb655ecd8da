"""A range's figures kept per dimension value (docs/reports.md#range-figures): the first read
of a range and dimension computes every value's sums and unique visitors from the day and
span rows and keeps them; later reads take one row per value (or the top rows by net sales).
Recomputing a day (refresh or rebuild) deletes every kept range holding it, under the
program's report state lock, and bumps its generation, so a figure computed before that is
never kept after it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, timedelta, tzinfo
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from server.db import connection, is_mysql
from server.domain.reports.metrics import ROLLUP_COLUMNS, Sums
from server.domain.reports.ranges import ReportRange, local_midnight
from server.domain.reports.rollup import ALL_VALUE, Dimension
from server.models import ReportRangeFigures, ReportState
from server.services.ledger.postings import sql_rows
from server.services.reports import reads, spans
from server.services.reports.reads import Segment, cell, sums_of
from server.services.reports.state import generation, lock_state

COMPLETE = ""  # the value of the row marking a range and dimension complete (never a value)
Found = tuple[Sums, int]  # a value's sums and unique visitors
EMPTY: Found = (Sums(), 0)
_HOUR = timedelta(hours=1)  # a half-open interval: equality on instants differs by backend


async def compute(
    program_id: int, dimension: Dimension, r: ReportRange, tz: tzinfo
) -> dict[str, Found]:
    """Every value's figures over the range from its day and span rows (a one-day range's
    unique visitors counted exactly from report_visitors)."""
    pieces = spans.pieces(r, tz)
    (sums,) = await reads.spanned(
        program_id=program_id, dimension=dimension, periods=[pieces], by_value=True
    )
    uniques: dict[Any, int]
    if r.days > 1:
        (uniques,) = await reads.spanned_visitors(
            program_id=program_id, dimension=dimension, periods=[pieces], by_value=True
        )
    elif dimension == Dimension.ALL:
        uniques = {
            ALL_VALUE: await reads.unique_visitors(
                program_id=program_id, segment=Segment(), start=r.start, end=r.end
            )
        }
    else:
        uniques = await reads.unique_visitors_by(
            program_id=program_id, dimension=dimension, start=r.start, end=r.end
        )
    return {
        str(value): (sums.get(value, Sums()), uniques.get(value, 0))
        for value in set(sums) | set(uniques)
    }


async def _keep(
    program_id: int, dimension: Dimension, r: ReportRange, found: dict[str, Found], seen: int
) -> None:
    """Store a computed range unless a day of the program was recomputed since `seen`."""
    async with in_transaction() as conn:
        state = await lock_state(conn, program_id)
        if state.generation != seen:
            return
        key = {"program_id": program_id, "bucket": r.start, "days": r.days}
        if (
            await ReportRangeFigures.filter(**key, dimension=dimension.value, value=COMPLETE)
            .using_db(conn)
            .exists()
        ):
            return  # another read kept it first
        rows = [
            ReportRangeFigures(
                **key,
                range_end=r.end,
                dimension=dimension.value,
                value=value,
                unique_visitors=visitors,
                **{column: sums[column] for column in ROLLUP_COLUMNS},
            )
            for value, (sums, visitors) in sorted(found.items())
        ]
        rows.append(
            ReportRangeFigures(
                **key,
                range_end=r.end,
                dimension=dimension.value,
                value=COMPLETE,
                active_values=_active(found),
            )
        )
        await ReportRangeFigures.bulk_create(rows, batch_size=1000, using_db=conn)


async def _fill(
    program_id: int, dimension: Dimension, r: ReportRange, tz: tzinfo
) -> dict[str, Found]:
    seen = await generation(program_id=program_id)
    found = await compute(program_id, dimension, r, tz)
    await _keep(program_id, dimension, r, found, seen)
    return found


def _where(
    program_id: int, dimension: Dimension, r: ReportRange, table: str = ""
) -> tuple[str, list[Any]]:
    t = table
    return (
        f"{t}program_id = ? AND {t}dimension = ? AND {t}bucket >= ? AND {t}bucket < ?"
        f" AND {t}days = ?",
        [program_id, dimension.value, r.start, r.start + _HOUR, r.days],
    )


async def _rows(text: str, values: list[Any]) -> dict[str, Found]:
    conn = connection()
    return {
        row["value"]: (sums_of(conn, row), int(row["unique_visitors"]))
        for row in await sql_rows(conn, text, values)
    }


def _select(conn: BaseDBAsyncClient, index: int = 0) -> str:
    columns = ", ".join(cell(conn, column) for column in ROLLUP_COLUMNS)
    return f"SELECT {index} AS p, value, unique_visitors, {columns} FROM report_range_figures"


async def _kept(
    program_id: int, dimension: Dimension, r: ReportRange, values: Sequence[str] | None
) -> dict[str, Found] | None:
    """The kept rows of these values (all when None), or None when the range is not kept."""
    where, args = _where(program_id, dimension, r)
    if values is not None:
        wanted = [COMPLETE, *values]
        where += f" AND value IN ({', '.join('?' for _ in wanted)})"
        args += wanted
    found = await _rows(f"{_select(connection())} WHERE {where}", args)
    if found.pop(COMPLETE, None) is None:
        return None
    return found


async def by_value(
    *, program_id: int, dimension: Dimension, r: ReportRange, tz: tzinfo
) -> dict[str, Found]:
    """Every value's sums and unique visitors over a range of whole local days."""
    found = await _kept(program_id, dimension, r, None)
    return found if found is not None else await _fill(program_id, dimension, r, tz)


async def of_values(
    *, program_id: int, dimension: Dimension, r: ReportRange, tz: tzinfo, values: Sequence[str]
) -> dict[str, Found]:
    """These values' sums and unique visitors (a value without figures is left out)."""
    found = await _kept(program_id, dimension, r, values)
    if found is None:
        found = await _fill(program_id, dimension, r, tz)
    return {value: found[value] for value in values if value in found}


async def segment_figures(
    *, program_id: int, segment: Segment, ranges: Sequence[ReportRange], tz: tzinfo
) -> list[Found]:
    """The sums and unique visitors of one segment (the totals: dimension all) over each
    range: the kept rows of all of them in one statement."""
    conn = connection()
    parts, args = [], []
    for index, r in enumerate(ranges):
        where, values = _where(program_id, segment.dimension, r)
        parts.append(f"{_select(conn, index)} WHERE {where} AND value IN (?, ?)")
        args += [*values, COMPLETE, segment.value]
    kept: list[dict[str, Found]] = [{} for _ in ranges]
    for row in await sql_rows(conn, " UNION ALL ".join(parts), args):
        kept[int(row["p"])][row["value"]] = (sums_of(conn, row), int(row["unique_visitors"]))
    found = []
    for r, of_range in zip(ranges, kept, strict=True):
        if COMPLETE not in of_range:
            of_range = await _fill(program_id, segment.dimension, r, tz)
        found.append(of_range.get(segment.value, EMPTY))
    return found


async def top(
    *, program_id: int, dimension: Dimension, r: ReportRange, tz: tzinfo, limit: int
) -> dict[str, Found]:
    """At least the `limit` values first by net sales, then visits, then value (code point
    order, as Python sorts): whoever sorts what this returns the same way gets the same top."""
    conn = connection()
    where, args = _where(program_id, dimension, r)
    if is_mysql(conn):
        net_sales, value = "net_sales", "CAST(value AS BINARY)"
    else:
        net_sales, value = "CAST(ROUND(net_sales * 100) AS INTEGER)", "value"
    found = await _rows(
        f"{_select(conn)} WHERE {where} ORDER BY value = '' DESC, {net_sales} DESC,"
        f" visits DESC, {value} LIMIT {int(limit) + 1}",
        args,
    )
    if found.pop(COMPLETE, None) is None:
        return await _fill(program_id, dimension, r, tz)
    return found


def _active(found: dict[str, Found]) -> int:
    """Values with a visit, binding or attributed order (all counts, never negative)."""
    return sum(
        1
        for sums, _ in found.values()
        if sums["visits"] > 0 or sums["bindings"] > 0 or sums["orders"] > 0
    )


async def active_promoters(
    *, program_id: int, ranges: Sequence[ReportRange], tz: tzinfo
) -> list[int]:
    """Promoters with a visit, binding or attributed order over each range of whole local
    days: counted when the range was kept (its complete row), all in one statement."""
    parts, args = [], []
    for index, r in enumerate(ranges):
        where, values = _where(program_id, Dimension.PROMOTER, r)
        parts.append(
            f"SELECT {index} AS p, active_values FROM report_range_figures"
            f" WHERE {where} AND value = ''"
        )
        args += values
    rows = await sql_rows(connection(), " UNION ALL ".join(parts), args)
    kept = {int(row["p"]): int(row["active_values"]) for row in rows}
    return [
        kept[index]
        if index in kept
        else _active(await _fill(program_id, Dimension.PROMOTER, r, tz))
        for index, r in enumerate(ranges)
    ]


async def by_tier(*, program_id: int, r: ReportRange, tz: tzinfo) -> dict[str, Found]:
    """The promoter rows summed per each promoter's tier now (unique visitors too: a visitor
    of two promoters of a tier counts twice), grouped by the database."""
    if await _kept(program_id, Dimension.PROMOTER, r, []) is None:
        await _fill(program_id, Dimension.PROMOTER, r, tz)
    conn = connection()
    where, args = _where(program_id, Dimension.PROMOTER, r, "f.")
    as_id = "SIGNED" if is_mysql(conn) else "INTEGER"
    columns = ", ".join(cell(conn, column, summed=True) for column in ROLLUP_COLUMNS)
    return await _rows(
        f"SELECT t.tier AS value, SUM(t.unique_visitors) AS unique_visitors, {columns}"
        " FROM (SELECT COALESCE(p.tier, 'default') AS tier, f.* FROM report_range_figures AS f"
        f" LEFT JOIN promoters AS p ON p.id = CAST(f.value AS {as_id})"
        f" WHERE {where} AND f.value <> '') AS t"
        " GROUP BY t.tier",
        args,
    )


async def forget_days(
    conn: BaseDBAsyncClient, *, program_id: int, days: Iterable[date], tz: tzinfo
) -> None:
    """Delete the kept ranges holding these local days and bump the program's generation
    (the caller holds its report state lock and has just recomputed the days)."""
    for day in sorted(set(days)):
        lo, hi = local_midnight(day, tz), local_midnight(day + timedelta(days=1), tz)
        await (
            ReportRangeFigures.filter(program_id=program_id, bucket__lt=hi, range_end__gt=lo)
            .using_db(conn)
            .delete()
        )
    await (
        ReportState.filter(program_id=program_id)
        .using_db(conn)
        .update(generation=F("generation") + 1)
    )
