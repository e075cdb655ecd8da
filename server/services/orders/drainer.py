"""The per-worker drainer of the order event inbox: claims batches and applies them in lanes,
giving way to the stores while this worker accepts events (docs/design/orders.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

from server.background import stop_within
from server.domain.orders.inbox import DRAIN_PIPELINES
from server.services.orders.inbox import apply_batch, claim_events, requeue_expired

if TYPE_CHECKING:
    from sanic import Sanic

log = logging.getLogger("fenxiao.order_events.drainer")

POLL_SECONDS = 1.0
MAX_ERROR_DELAY_SECONDS = 5.0
# While the worker is accepting, the drainer applies one event per this many seconds: it
# keeps moving under a long burst, and takes ~0.6% of the worker's CPU from the stores (one
# every 0.15 s, ~4%, left the accepted events' p99 at 49-63 ms in bench/order_event_bench.py
# against 40-42 ms with this pace on the same machine).
PACE_SECONDS = 1.0
YIELD_CHECK_SECONDS = 0.005
# A stop waited without limit on a drainer stuck on a killed database connection: 40 s.
STOP_DEADLINE_SECONDS = 5.0

# The drainer of this process while it runs (one per server worker).
_running: EventDrainer | None = None


class EventDrainer:
    """Applies queued order events in the background of one worker."""

    def __init__(self) -> None:
        self._wakeup = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._accepting = 0
        # While accepting: when (loop time) the next event may start.
        self._next_turn = 0.0

    @contextlib.contextmanager
    def accepting(self) -> Iterator[None]:
        """Around accepting one event: meanwhile the drainer applies one per PACE_SECONDS."""
        self._accepting += 1
        try:
            yield
        finally:
            self._accepting -= 1
        self._wakeup.set()

    async def _give_way(self) -> None:
        # Turns shared by the lanes, not a pause per lane: an event is ~6 ms of this worker's
        # CPU, and lanes waking together would hold back the requests arriving meanwhile.
        if not self._accepting:
            return
        loop = asyncio.get_running_loop()
        turn = max(loop.time(), self._next_turn)
        self._next_turn = turn + PACE_SECONDS
        while self._accepting and not self._stopping and (left := turn - loop.time()) > 0:
            await asyncio.sleep(min(left, YIELD_CHECK_SECONDS))

    def start(self) -> None:
        global _running
        self._task = asyncio.get_running_loop().create_task(self._run(), name="order-event-drainer")
        _running = self

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done() and not self._stopping

    def wake(self) -> None:
        """Claim now rather than at the next poll."""
        self._wakeup.set()

    async def _go_on(self) -> bool:
        await self._give_way()
        return not self._stopping

    async def _run(self) -> None:
        with contextlib.suppress(Exception):
            await requeue_expired()
        # Each pipeline claims its own batch: while one waits on the database, another runs.
        await asyncio.gather(*(self._pipeline(first=n == 0) for n in range(DRAIN_PIPELINES)))

    async def _pipeline(self, *, first: bool) -> None:
        delay = 0.0
        while not self._stopping:
            if not first and self._accepting:
                # One batch at a time while the stores are served: at one event a turn, a
                # second one would wait past its lease.
                await self._sleep()
                continue
            try:
                batch = await claim_events()
                delay = 0.0
            except Exception:
                delay = min(max(delay * 2, 0.1), MAX_ERROR_DELAY_SECONDS)
                log.exception("order event inbox: claim failed, again in %.1f s", delay)
                await asyncio.sleep(delay)
                continue
            if batch:
                # Set-based while idle; while the worker accepts, one event per turn.
                await apply_batch(batch, go_on=self._go_on, set_based=lambda: not self._accepting)
                continue
            await self._sleep()

    async def _sleep(self) -> None:
        """Until this worker accepts an event (or finishes accepting), or POLL_SECONDS."""
        self._wakeup.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), timeout=POLL_SECONDS)

    async def stop(self, *, deadline_seconds: float = STOP_DEADLINE_SECONDS) -> bool:
        """Finish the event in hand; the rest of the batch goes back to the queue. After
        `deadline_seconds` (a database that stopped answering) it is cancelled and what it
        claimed waits for its lease to run out; False then."""
        global _running
        if _running is self:
            _running = None
        self._stopping = True
        self._wakeup.set()
        task, self._task = self._task, None
        if task is None:
            return True
        return await stop_within(task, what="order event drainer", seconds=deadline_seconds)


def wake_running_drainer() -> bool:
    """Wake this process's drainer; False when none runs here (a Celery worker, a CLI)."""
    if _running is None or not _running.running:
        return False
    _running.wake()
    return True


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
