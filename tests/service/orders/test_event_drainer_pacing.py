"""While its worker is answering stores, a drainer starts one event per pace, its lanes taking
turns; once the worker is idle again, every lane goes on at once."""

from __future__ import annotations

import asyncio

import pytest

from server.services.orders import drainer as event_drainer
from server.services.orders.drainer import EventDrainer


async def _finished(tasks: list[asyncio.Task[bool]]) -> int:
    # A few turns of the loop: a lane that is free to go has gone by then.
    await asyncio.sleep(0.05)
    return sum(task.done() for task in tasks)


async def test_while_accepting_the_lanes_take_turns_and_all_go_once_the_stores_are_answered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(event_drainer, "PACE_SECONDS", 60.0)
    drainer = EventDrainer()
    with drainer.accepting():
        lanes = [asyncio.create_task(drainer._go_on()) for _ in range(4)]
        assert await _finished(lanes) == 1  # the first turn is now; the next is a pace away
    assert await _finished(lanes) == 4
    assert all(lane.result() for lane in lanes)


async def test_an_idle_worker_lets_every_lane_go_at_once() -> None:
    drainer = EventDrainer()
    lanes = [asyncio.create_task(drainer._go_on()) for _ in range(4)]
    assert await _finished(lanes) == 4


async def test_idle_every_pipeline_claims_and_while_accepting_only_the_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Two claim-and-apply loops keep the core busy while a batch waits on the database; while
    # the worker answers stores, a second claimed batch would wait past its lease.
    in_flight: list[int] = [0]
    most: list[int] = []

    async def claim_events() -> list[object]:
        in_flight[0] += 1
        most.append(in_flight[0])
        await asyncio.sleep(0.05)
        in_flight[0] -= 1
        return []

    monkeypatch.setattr(event_drainer, "claim_events", claim_events)
    monkeypatch.setattr(event_drainer, "POLL_SECONDS", 0.01)
    monkeypatch.setattr(event_drainer, "requeue_expired", lambda: asyncio.sleep(0))
    drainer = EventDrainer()
    with drainer.accepting():
        drainer.start()
        await asyncio.sleep(0.3)
        assert most and max(most) == 1
    most.clear()
    await asyncio.sleep(0.3)
    await drainer.stop()
    assert max(most) == event_drainer.DRAIN_PIPELINES == 2
