"""Marks written in the writer's own transaction: the instants whose report buckets changed,
one plain INSERT per write (no shared counter row to lock, so the money path never waits on a
report update); the refresh job turns them into recomputed buckets (docs/reports.md)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from tortoise.backends.base.client import BaseDBAsyncClient

from server.db import param_marker
from server.domain.instants import stored_instant

# Local hours begin on a quarter hour in every zone: marks a quarter hour apart never
# fall in one bucket, so one mark per quarter hour per program is enough.
QUARTER_SECONDS = 15 * 60


def _quarters(instants: Iterable[datetime]) -> list[datetime]:
    """The UTC quarter hours of these instants, each once. Epoch seconds floored as integers:
    a visit batch holds hundreds of instants, and datetime arithmetic per instant cost a
    fifth of the batch's CPU."""
    found: set[int] = set()
    for moment in instants:
        # A writer may hold an instant with its offset (a binding at 23:00+08:00): the epoch
        # seconds are the same instant; a naive one names no instant.
        if moment.tzinfo is not UTC and moment.utcoffset() is None:
            raise ValueError(f"{moment.isoformat()} has no time zone")
        found.add(int(moment.timestamp()) // QUARTER_SECONDS)
    return [datetime.fromtimestamp(q * QUARTER_SECONDS, UTC) for q in sorted(found)]


async def mark_instants(
    *, conn: BaseDBAsyncClient, program_id: int, instants: Iterable[datetime]
) -> None:
    """Mark the buckets of these instants of one program as changed."""
    quarters = _quarters(instants)
    if not quarters:
        return
    marker = param_marker(conn)
    rows = ", ".join([f"({marker}, {marker})"] * len(quarters))
    values: list[object] = []
    for quarter in quarters:
        values.extend((program_id, quarter))
    await conn.execute_query(f"INSERT INTO report_marks (program_id, at) VALUES {rows}", values)


async def mark_order(*, conn: BaseDBAsyncClient, program_id: int, external_id: str) -> None:
    """Mark the bucket of a paid order (its figures and its commissions' live there)."""
    marker = param_marker(conn)
    # A plain read, then a plain INSERT: INSERT … SELECT would take shared next-key locks on
    # the orders index (a gap lock when the order does not exist yet), which blocks other
    # orders' inserts into that gap and can deadlock concurrent events.
    _, rows = await conn.execute_query(
        f"SELECT paid_at FROM orders WHERE program_id = {marker} AND external_id = {marker}",
        [program_id, external_id],
    )
    instants = [i for row in rows if (i := stored_instant(row["paid_at"])) is not None]
    await mark_instants(conn=conn, program_id=program_id, instants=instants)


async def mark_commissions(*, conn: BaseDBAsyncClient, ids: Iterable[int] | str) -> None:
    """Mark the buckets of the orders of these commissions (an id list or its SQL text)."""
    id_list = ids if isinstance(ids, str) else ", ".join(str(int(i)) for i in ids)
    if not id_list:
        return
    _, rows = await conn.execute_query(
        "SELECT DISTINCT o.program_id AS program_id, o.paid_at AS paid_at"
        " FROM orders AS o JOIN commissions AS c ON c.order_id = o.id"
        f" WHERE c.id IN ({id_list}) AND o.paid_at IS NOT NULL"
    )
    by_program: dict[int, list[datetime]] = {}
    for row in rows:
        if (moment := stored_instant(row["paid_at"])) is not None:
            by_program.setdefault(int(row["program_id"]), []).append(moment)
    for program_id, instants in sorted(by_program.items()):
        await mark_instants(conn=conn, program_id=program_id, instants=instants)
