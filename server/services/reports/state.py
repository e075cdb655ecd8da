"""The program's report state row: locked by whoever changes or keeps derived report rows
(refresh, rebuild, a range's figures kept after a read), so one does it at a time."""

from __future__ import annotations

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from server.models import ReportState


async def lock_state(conn: BaseDBAsyncClient, program_id: int) -> ReportState:
    """Lock the program's report state row (created on first use) until `conn` commits."""
    state = (
        await ReportState.filter(program_id=program_id).using_db(conn).select_for_update().first()
    )
    if state is not None:
        return state
    try:
        async with in_transaction() as inner:
            await ReportState.create(program_id=program_id, using_db=inner)
    except IntegrityError:
        pass  # another run created it first
    return await ReportState.filter(program_id=program_id).using_db(conn).select_for_update().get()


async def generation(*, program_id: int) -> int:
    """How many times the program's day rows have been recomputed (0 before the first)."""
    found = await ReportState.filter(program_id=program_id).values_list("generation", flat=True)
    return int(found[0]) if found else 0
