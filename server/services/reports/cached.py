"""A range's figures kept per dimension value (docs/reports.md#range-figures): the first read
of a range and dimension computes every value's sums and unique visitors from the day and
span rows and keeps them; later reads take one row per value (or the top rows by net sales).
Recomputing a day (refresh or rebuild) deletes every kept range holding it, under the
program's report state lock, and bumps its generation, so a figure computed before that is
never kept after it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from server.db import connection, is_mysql
from server.domain.reports.metrics import ROLLUP_COLUMNS, Sums
from server.domain.reports.ranges import ReportRange, local_midnight
from server.domain.reports.rollup import ALL_VALUE, Dimension
from server.models import Promoter, ReportRangeFigures, ReportState
from server.services.ledger.postings import sql_rows
from server.services.reports import reads, spans
from server.services.reports.reads import Segment, cell, sums_of
from server.services.reports.state import generation, lock_state

COMPLETE = ""  # the value of the row marking a range and dimension complete (never a value)
Found = tuple[Sums, int]  # a value's sums and unique visitors


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
        [program_id, dimension.value, r.start, r.start + spans.HOUR, r.days],
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


async def by_value(
    *, program_id: int, dimension: Dimension, r: ReportRange, tz: tzinfo
) -> dict[str, Found]:
    """Every value's sums and unique visitors over a range of whole local days."""
    where, args = _where(program_id, dimension, r)
    found = await _rows(f"{_select(connection())} WHERE {where}", args)
    if found.pop(COMPLETE, None) is None:
        return await _fill(program_id, dimension, r, tz)
    return found


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
        found.append(of_range.get(segment.value) or (Sums(), 0))
    return found


async def top(
    *,
    program_id: int,
    dimension: Dimension,
    current: ReportRange,
    previous: ReportRange,
    tz: tzinfo,
    limit: int,
    also: Sequence[str] = (),
) -> tuple[dict[str, Found], dict[str, Found]]:
    """The `limit` values of `current` first by net sales, then visits, then value (code point
    order, as Python sorts them), and the values `also`; and those values' figures in
    `previous`: one statement when both ranges are kept. Whoever sorts the first the same way
    gets the same top, and finds each of its values' previous figures in the second."""
    conn = connection()
    now, now_args = _where(program_id, dimension, current)
    then, then_args = _where(program_id, dimension, previous)
    if is_mysql(conn):
        net_sales, value = "net_sales", "CAST(value AS BINARY)"
    else:
        net_sales, value = "CAST(ROUND(net_sales * 100) AS INTEGER)", "value"
    first = (
        f"SELECT value FROM report_range_figures WHERE {now} AND value <> ''"
        f" ORDER BY {net_sales} DESC, visits DESC, {value} LIMIT {int(limit)}"
    )
    extra = [COMPLETE, *also]
    listed = ", ".join("?" for _ in extra)
    text = " UNION ALL ".join(
        [
            f"SELECT * FROM ({_select(conn)} WHERE {now} AND value <> ''"
            f" ORDER BY {net_sales} DESC, visits DESC, {value} LIMIT {int(limit)}) AS a",
            f"{_select(conn)} WHERE {now} AND value IN ({listed})",
            f"{_select(conn, 1)} WHERE {then} AND (value IN ({listed})"
            f" OR value IN (SELECT value FROM ({first}) AS t))",
        ]
    )
    kept: list[dict[str, Found]] = [{}, {}]
    rows = await sql_rows(conn, text, [*now_args, *now_args, *extra, *then_args, *extra, *now_args])
    for row in rows:
        kept[int(row["p"])][row["value"]] = (sums_of(conn, row), int(row["unique_visitors"]))
    found = []
    for r, of_range in zip((current, previous), kept, strict=True):
        if of_range.pop(COMPLETE, None) is None:
            of_range = await _fill(program_id, dimension, r, tz)
        found.append(of_range)
    return found[0], found[1]


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


async def by_tier(
    *, program_id: int, ranges: Sequence[ReportRange], tz: tzinfo
) -> list[dict[str, Found]]:
    """The promoter rows of each range summed per each promoter's tier now (unique visitors
    too: a visitor of two promoters of a tier counts twice): grouped by the database, both
    ranges in one statement when kept."""
    conn = connection()
    as_id = "SIGNED" if is_mysql(conn) else "INTEGER"
    columns = ", ".join(cell(conn, column, summed=True) for column in ROLLUP_COLUMNS)
    parts, args = [], []
    for index, r in enumerate(ranges):
        where, values = _where(program_id, Dimension.PROMOTER, r, "f.")
        parts.append(
            f"SELECT {index} AS p, CASE WHEN f.value = '' THEN '' ELSE COALESCE(p.tier,"
            f" 'default') END AS value, SUM(f.unique_visitors) AS unique_visitors, {columns}"
            " FROM report_range_figures AS f"
            f" LEFT JOIN promoters AS p ON p.id = CAST(f.value AS {as_id}) AND f.value <> ''"
            f" WHERE {where} GROUP BY 2"
        )
        args += values
    kept: list[dict[str, Found]] = [{} for _ in ranges]
    for row in await sql_rows(conn, " UNION ALL ".join(parts), args):
        kept[int(row["p"])][row["value"]] = (sums_of(conn, row), int(row["unique_visitors"]))
    found = []
    for r, of_range in zip(ranges, kept, strict=True):
        if of_range.pop(COMPLETE, None) is None:
            of_range = await _tiers_of(await _fill(program_id, Dimension.PROMOTER, r, tz))
        found.append(of_range)
    return found


async def _tiers_of(promoters: dict[str, Found]) -> dict[str, Found]:
    """Promoters' figures summed per tier (what by_tier's statement does, for figures that
    were computed but not kept)."""
    ids = sorted(int(v) for v in promoters)
    tiers = dict(await Promoter.filter(id__in=ids).values_list("id", "tier"))
    grouped: dict[str, Found] = {}
    for value, (sums, visitors) in promoters.items():
        tier = str(tiers.get(int(value), "default"))
        merged, counted = grouped.get(tier, (Sums(), 0))
        merged.merge(sums)
        grouped[tier] = (merged, counted + visitors)
    return grouped


Kept = tuple[datetime, datetime, int, str]  # a kept range: start, end, days, dimension


async def forget_days(
    conn: BaseDBAsyncClient, *, program_id: int, days: Iterable[date], tz: tzinfo
) -> list[Kept]:
    """Delete the kept ranges holding these local days and bump the program's generation
    (the caller holds its report state lock and has just recomputed the days); the ranges
    that were kept, which `keep_again` can compute anew once the caller commits."""
    forgotten: set[Kept] = set()
    for day in sorted(set(days)):
        lo, hi = local_midnight(day, tz), local_midnight(day + timedelta(days=1), tz)
        holding = ReportRangeFigures.filter(program_id=program_id, bucket__lt=hi, range_end__gt=lo)
        for row in (
            await holding.filter(value=COMPLETE)
            .using_db(conn)
            .values("bucket", "range_end", "days", "dimension")
        ):
            forgotten.add((row["bucket"], row["range_end"], row["days"], row["dimension"]))
        await holding.using_db(conn).delete()
    await (
        ReportState.filter(program_id=program_id)
        .using_db(conn)
        .update(generation=F("generation") + 1)
    )
    return sorted(forgotten)


async def keep_again(*, program_id: int, ranges: Iterable[Kept], tz: tzinfo) -> None:
    """Compute and keep again the ranges a refresh forgot (ranges someone read), so the next
    read of a range ending today still reads one row per value."""
    for start, end, days, dimension in ranges:
        first = start.astimezone(tz).date()
        r = ReportRange(first=first, last=first + timedelta(days=days - 1), start=start, end=end)
        await _fill(program_id, Dimension(dimension), r, tz)
