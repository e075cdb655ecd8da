"""A drainer stuck on a database that stopped answering (connections killed under it) does not
hold its worker's stop up: after its deadline it is cancelled."""

from __future__ import annotations

import asyncio

import pytest

from server.services.orders import drainer as event_drainer
from server.services.orders.drainer import EventDrainer

# Only a hang guard: the drainer's own deadline below is far shorter.
HANG_GUARD_SECONDS = 30


async def test_a_drainer_stuck_on_the_database_is_cancelled_at_its_stop_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    claiming = asyncio.Event()

    async def requeue_nothing() -> dict[str, int]:
        return {"requeued": 0, "stuck": 0}

    async def claim_forever() -> list[object]:
        claiming.set()
        await asyncio.Event().wait()  # a query on a connection that never answers
        return []

    monkeypatch.setattr(event_drainer, "requeue_expired", requeue_nothing)
    monkeypatch.setattr(event_drainer, "claim_events", claim_forever)
    drainer = EventDrainer()
    drainer.start()
    task = drainer._task
    assert task is not None
    await claiming.wait()

    stopped_by_itself = await asyncio.wait_for(
        drainer.stop(deadline_seconds=0.05), HANG_GUARD_SECONDS
    )

    assert stopped_by_itself is False
    assert task.cancelled()
    assert not drainer.running


async def test_an_idle_drainer_stops_by_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    async def nothing_queued(**_: object) -> list[object]:
        return []

    async def requeue_nothing() -> dict[str, int]:
        return {"requeued": 0, "stuck": 0}

    monkeypatch.setattr(event_drainer, "requeue_expired", requeue_nothing)
    monkeypatch.setattr(event_drainer, "claim_events", nothing_queued)
    drainer = EventDrainer()
    drainer.start()
    await asyncio.sleep(0)

    assert await asyncio.wait_for(drainer.stop(), HANG_GUARD_SECONDS) is True
