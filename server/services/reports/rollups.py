"""Keeping rollups equal to their raw rows: recompute spans of buckets, refresh the marked
ones (the job, every 30 s), rebuild any range (`python -m server.cli rebuild-reports`)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from server import clock
from server.domain.instants import require_utc
from server.domain.periods import zone
from server.domain.reports.ranges import local_hour_start, local_midnight, next_hour_start
from server.domain.reports.rollup import Rollup, Touch, roll_up, touch_values
from server.domain.reports.sketch import sketches_by_value
from server.models import (
    Program,
    ReportBuyer,
    ReportDailyRollup,
    ReportMark,
    ReportRollup,
    ReportSketch,
    ReportVisitor,
)
from server.services.reports.cached import Kept, forget_days, keep_again
from server.services.reports.facts import (
    TOUCH_COLUMNS,
    binding_facts,
    copy_visitors,
    order_facts,
    visit_counts,
)
from server.services.reports.spans import recompute_spans
from server.services.reports.state import lock_state
from server.services.reports.summing import insert_all, insert_sums

# Marks one refresh run takes; the rest wait for the next run.
REFRESH_BATCH = 5000
# The longest span rebuilt in one transaction (a day keeps each transaction short).
REBUILD_STEP = timedelta(days=1)


def _touch_columns(touch: Touch) -> dict[str, Any]:
    return {name: getattr(touch, name) for name in TOUCH_COLUMNS}


async def _write(conn: BaseDBAsyncClient, program_id: int, rollup: Rollup) -> None:
    """The hourly rows and buyers of a recomputed span (its visitors: `copy_visitors`)."""
    await insert_all(
        conn,
        ReportRollup,
        [
            {
                "program_id": program_id,
                "bucket": bucket,
                "dimension": dimension,
                "value": value,
                **sums.values,
            }
            for (bucket, dimension, value), sums in sorted(rollup.rows.items())
        ],
    )
    await insert_all(
        conn,
        ReportBuyer,
        [
            {
                "program_id": program_id,
                "bucket": bucket,
                "buyer_key": key,
                "orders": sums.orders,
                "net_sales": sums.net_sales,
                **_touch_columns(touch),
            }
            for (bucket, key, touch), sums in rollup.buyers.items()
        ],
    )


async def recompute_span(
    *,
    conn: BaseDBAsyncClient,
    program: Program,
    start: datetime,
    end: datetime,
    with_days: bool = True,
) -> None:
    """Replace the rollups of [start, end) by a recomputation from raw rows (state locked),
    then (unless the caller does it once for several) the days it touches."""
    tz = zone(program.time_zone)
    rollup = roll_up(
        bucket_of=lambda moment: local_hour_start(moment, tz),
        visit_counts=await visit_counts(
            conn=conn, program_id=program.id, start=start, end=end, tz=tz
        ),
        bindings=await binding_facts(conn=conn, program_id=program.id, start=start, end=end),
        orders=await order_facts(conn=conn, program_id=program.id, start=start, end=end),
    )
    for model in (ReportRollup, ReportVisitor, ReportBuyer):
        await (
            model.filter(program_id=program.id, bucket__gte=start, bucket__lt=end)
            .using_db(conn)
            .delete()
        )
    await _write(conn, program.id, rollup)
    await copy_visitors(conn=conn, program_id=program.id, start=start, end=end, tz=tz)
    if with_days:
        await _recompute_days(conn, program=program, days=_days_of(start, end, tz))


def _days_of(start: datetime, end: datetime, tz: Any) -> list[date]:
    """The local days [start, end) touches."""
    days, day = [], start.astimezone(tz).date()
    while local_midnight(day, tz) < end:
        days.append(day)
        day += timedelta(days=1)
    return days


async def _recompute_days(
    conn: BaseDBAsyncClient, *, program: Program, days: list[date], with_spans: bool = True
) -> list[Kept]:
    """Replace the day rows and visitor sketches of these local days, then (unless the caller
    does it once for many days) their spans; the kept ranges holding them are forgotten
    (returned)."""
    tz = zone(program.time_zone)
    for day in days:
        lo, hi = local_midnight(day, tz), local_midnight(day + timedelta(days=1), tz)
        await _recompute_day_rows(conn, program_id=program.id, start=lo, end=hi)
        await _recompute_day_sketches(conn, program_id=program.id, start=lo, end=hi)
    if with_spans:
        await recompute_spans(conn, program_id=program.id, days=days, tz=tz)
    return await forget_days(conn, program_id=program.id, days=days, tz=tz)


async def _recompute_day_sketches(
    conn: BaseDBAsyncClient, *, program_id: int, start: datetime, end: datetime
) -> None:
    """The day's unique visitor sketch per dimension value, from its hours' visitors."""
    rows = (
        await ReportVisitor.filter(program_id=program_id, bucket__gte=start, bucket__lt=end)
        .using_db(conn)
        .values("visitor_hash", *TOUCH_COLUMNS)
    )
    sketches = sketches_by_value(
        (
            row["visitor_hash"],
            [
                (d.value, v)
                for d, v in touch_values(Touch(**{f: row[f] for f in TOUCH_COLUMNS})).items()
            ],
        )
        for row in rows
    )
    await ReportSketch.filter(program_id=program_id, day=start).using_db(conn).delete()
    await insert_all(
        conn,
        ReportSketch,
        [
            {
                "program_id": program_id,
                "day": start,
                "dimension": dimension,
                "value": value,
                "registers": sketch.encode(),
            }
            for (dimension, value), sketch in sorted(sketches.items())
        ],
    )


async def _recompute_day_rows(
    conn: BaseDBAsyncClient, *, program_id: int, start: datetime, end: datetime
) -> None:
    """The day's rows: its hourly rows summed per dimension value."""
    await ReportDailyRollup.filter(program_id=program_id, bucket=start).using_db(conn).delete()
    await insert_sums(
        conn,
        table="report_daily_rollups",
        key={"program_id": program_id, "bucket": start},
        sources=[
            (
                "report_rollups",
                "program_id = ? AND bucket >= ? AND bucket < ?",
                [program_id, start, end],
            )
        ],
    )


def _spans(instants: list[datetime], tz: Any) -> list[tuple[datetime, datetime]]:
    """The local hour buckets of these instants, adjacent ones joined into spans."""
    spans: list[tuple[datetime, datetime]] = []
    for bucket in sorted({local_hour_start(moment, tz) for moment in instants}):
        end = next_hour_start(bucket, tz)
        if spans and spans[-1][1] == bucket:
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((bucket, end))
    return spans


async def refresh_reports(*, batch: int = REFRESH_BATCH) -> dict[str, int]:
    """Recompute the buckets marked since the last run and delete their marks."""
    marks = await ReportMark.all().order_by("id").limit(batch).values("id", "program_id", "at")
    by_program: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for mark in marks:
        by_program[mark["program_id"]].append(mark)
    buckets = 0
    for program_id, program_marks in sorted(by_program.items()):
        forgotten: list[Kept] = []
        async with in_transaction() as conn:
            state = await lock_state(conn, program_id)
            program = await Program.filter(id=program_id).using_db(conn).first()
            if program is not None:
                tz = zone(program.time_zone)
                days: set[date] = set()
                for start, end in _spans([m["at"] for m in program_marks], tz):
                    await recompute_span(
                        conn=conn, program=program, start=start, end=end, with_days=False
                    )
                    days.update(_days_of(start, end, tz))
                    buckets += 1
                # Each touched day (and its spans) once, however many of its hours changed.
                forgotten = await _recompute_days(conn, program=program, days=sorted(days))
            await ReportMark.filter(id__in=[m["id"] for m in program_marks]).using_db(conn).delete()
            state.refreshed_at = clock.now()
            await state.save(using_db=conn, update_fields=["refreshed_at"])
        if program is not None:  # ranges someone read: one row per value again
            await keep_again(program_id=program_id, ranges=forgotten, tz=zone(program.time_zone))
    return {"marks": len(marks), "spans": buckets, "programs": len(by_program)}


async def rebuild_reports(
    *, start: datetime, end: datetime, program_id: int | None = None
) -> dict[str, int]:
    """Recompute every bucket in [start, end) of one or every program from raw rows."""
    require_utc(start, what="start")
    require_utc(end, what="end")
    query = Program.all() if program_id is None else Program.filter(id=program_id)
    spans = 0
    for program in await query.order_by("id"):
        tz = zone(program.time_zone)
        moment, stop = local_hour_start(start, tz), local_hour_start(end, tz)
        if stop < end:
            stop = next_hour_start(stop, tz)
        days: set[date] = set()
        while moment < stop:
            # Whole local days (after a first partial one): each day's sketches once.
            following = min(local_midnight(moment.astimezone(tz).date() + REBUILD_STEP, tz), stop)
            async with in_transaction() as conn:
                await lock_state(conn, program.id)
                await recompute_span(
                    conn=conn, program=program, start=moment, end=following, with_days=False
                )
                rebuilt = _days_of(moment, following, tz)
                await _recompute_days(conn, program=program, days=rebuilt, with_spans=False)
            days.update(rebuilt)
            spans += 1
            moment = following
        if days:
            # Each span once, after all its days (not once per day: a 64-day span 64 times);
            # the ranges kept from a span not yet recomputed are forgotten again.
            async with in_transaction() as conn:
                await lock_state(conn, program.id)
                await recompute_spans(conn, program_id=program.id, days=days, tz=tz)
                await forget_days(conn, program_id=program.id, days=days, tz=tz)
    return {"spans": spans}
