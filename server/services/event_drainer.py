"""The per-worker drainer of the order event inbox (server/services/order_event_inbox.py).

Each server worker runs one: it claims a batch, applies it event by event in the order
received, and claims again; with nothing queued it sleeps until this worker accepts an event
(`wake()`) or POLL_SECONDS pass (events accepted by other workers, or requeued after a lease).
One event at a time per worker keeps the drainer's share of the CPU bounded, so a burst of
deliveries is answered quickly and applied at the drainer's pace afterwards.

On a graceful stop it finishes the event in hand and gives the rest of its batch back to
the queue: what was accepted stays on disk for the next drainer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from server.services.order_event_inbox import (
    ClaimedEvent,
    apply_claimed,
    claim_events,
    release_claimed,
    requeue_expired,
)

if TYPE_CHECKING:
    from sanic import Sanic

log = logging.getLogger("fenxiao.order_events.drainer")

POLL_SECONDS = 1.0
MAX_ERROR_DELAY_SECONDS = 5.0


class EventDrainer:
    """Applies queued order events in the background of one worker (module doc)."""

    def __init__(self) -> None:
        self._wakeup = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self.applied = 0

    def wake(self) -> None:
        """An event was just accepted here: look at the queue now."""
        self._wakeup.set()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="order-event-drainer")

    async def _apply_batch(self, batch: list[ClaimedEvent]) -> None:
        for index, claimed in enumerate(batch):
            if self._stopping:
                await release_claimed(batch[index:])
                return
            try:
                await apply_claimed(claimed)
            except Exception:
                log.exception(
                    "order event %s: not applied, retried after its lease", claimed.event_id
                )
            self.applied += 1

    async def _run(self) -> None:
        delay = 0.0
        with contextlib.suppress(Exception):
            await requeue_expired()
        while not self._stopping:
            try:
                batch = await claim_events()
                delay = 0.0
            except Exception:
                delay = min(max(delay * 2, 0.1), MAX_ERROR_DELAY_SECONDS)
                log.exception("order event inbox: claim failed, again in %.1f s", delay)
                await asyncio.sleep(delay)
                continue
            if batch:
                await self._apply_batch(batch)
                continue
            self._wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout=POLL_SECONDS)

    async def stop(self) -> None:
        """Finish the event in hand; the rest of the batch goes back to the queue."""
        self._stopping = True
        self._wakeup.set()
        if self._task is not None:
            await self._task
            self._task = None


def install_event_drainer(app: Sanic) -> None:
    """Run a drainer in each worker between the database opening and closing."""
    drainer = EventDrainer()
    app.ctx.event_drainer = drainer

    async def start_event_drainer(app: Sanic) -> None:
        drainer.start()

    async def stop_event_drainer(app: Sanic) -> None:
        await drainer.stop()

    app.after_server_start(start_event_drainer)
    app.before_server_stop(stop_event_drainer)
