"""A visit buffer whose database stopped answering does not hold its worker's stop up: the
write in hand is cut at the stop timeout, and nothing is written after that (a cut write may
have reached the database: it is never repeated)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from server.services.sharing.visit_buffer import PendingVisit, VisitBuffer
from tests.api.test_visits_api import _pending

HANG_GUARD_SECONDS = 30


async def test_a_write_that_never_answers_is_cut_at_the_stop_timeout_and_never_repeated() -> None:
    writes: list[int] = []
    writing = asyncio.Event()

    async def hanging_writer(rows: Sequence[PendingVisit]) -> None:
        writes.append(len(rows))
        writing.set()
        await asyncio.Event().wait()

    buffer = VisitBuffer(
        writer=hanging_writer, flush_interval_seconds=0.01, stop_timeout_seconds=0.05
    )
    buffer.start()
    for _ in range(3):
        buffer.offer(_pending())
    await writing.wait()

    unwritten = await asyncio.wait_for(buffer.stop(), HANG_GUARD_SECONDS)
    again = await asyncio.wait_for(buffer.stop(), HANG_GUARD_SECONDS)

    assert unwritten == again == 3
    assert writes == [3]
