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
