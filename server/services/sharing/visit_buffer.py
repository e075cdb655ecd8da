"""The per-worker visit buffer: requests append, a background task writes in bulk.

A 2xx visit stays buffered until committed; when full, `offer()` refuses with 503.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple, Protocol

from server.background import stop_within
from server.domain.errors import ServiceUnavailable

if TYPE_CHECKING:
    from sanic import Sanic

log = logging.getLogger("fenxiao.visits")

FLUSH_INTERVAL_SECONDS = 0.2
FLUSH_ROWS = 500
# ~ 0.5 KB a row: 50,000 rows are ~ 25 MB and 15-25 s of a saturated worker, enough to ride
# out a database restart, while a stuck database cannot exhaust the worker's memory.
MAX_PENDING_ROWS = 50_000
STOP_TIMEOUT_SECONDS = 15.0
MAX_RETRY_DELAY_SECONDS = 5.0
# The final flush gets at least this long, even when the flusher used up the stop timeout.
MIN_FLUSH_SECONDS = 0.5


class PendingVisit(NamedTuple):
    """A visit accepted but not yet written: exactly the columns of a Visit row, in order."""

    # A named tuple: built on every request, it costs a fraction of a frozen dataclass, and the
    # writer sends it as the row's parameters. `at` is UTC-aware: the MySQL driver drops the
    # zone, so any other zone would be stored as the wrong instant.
    program_id: int
    promoter_id: int
    channel_id: int | None
    code_id: int | None
    site_id: int | None
    share_link_id: int | None
    customer_user_id: int | None
    customer_external_id: str | None
    utm_source: str | None
    utm_medium: str | None
    utm_campaign: str | None
    visitor_hash: str | None
    ip_hash: str | None
    ua_hash: str | None
    is_bot: bool
    source: str
    reached_by: str
    at: datetime


VisitWriter = Callable[[Sequence[PendingVisit]], Awaitable[None]]


class VisitScreen(Protocol):
    """Flags suspect visits before they are written; records findings after."""

    async def screen(self, rows: Sequence[PendingVisit]) -> list[PendingVisit]: ...

    async def record_crossings(self) -> int: ...


class VisitBuffer:
    """Bounded in-memory queue of visits with a background bulk writer."""

    def __init__(
        self,
        *,
        writer: VisitWriter,
        screen: VisitScreen | None = None,
        flush_interval_seconds: float = FLUSH_INTERVAL_SECONDS,
        flush_rows: int = FLUSH_ROWS,
        max_pending_rows: int = MAX_PENDING_ROWS,
        stop_timeout_seconds: float = STOP_TIMEOUT_SECONDS,
    ) -> None:
        self._writer = writer
        self._screen = screen
        # How many rows at the head of `_rows` were screened already.
        self._screened = 0
        self.flush_interval_seconds = flush_interval_seconds
        self.flush_rows = flush_rows
        self.max_pending_rows = max_pending_rows
        self.stop_timeout_seconds = stop_timeout_seconds
        self._rows: list[PendingVisit] = []
        self._flush_lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        # Set when a write was cut at shutdown: it may have reached the database.
        self._given_up = False
        self.failed_flushes = 0

    @property
    def pending(self) -> int:
        return len(self._rows)

    def offer(self, visit: PendingVisit) -> None:
        """Accept a visit for writing, or refuse it (503) when full or stopped."""
        if self._closed:
            raise ServiceUnavailable(
                "the server is shutting down; try again", code="visits_unavailable"
            )
        if len(self._rows) >= self.max_pending_rows:
            raise ServiceUnavailable(
                "visits cannot be recorded right now; try again", code="visits_backpressure"
            )
        self._rows.append(visit)
        if len(self._rows) >= self.flush_rows:
            self._wake.set()

    async def flush(self) -> int:
        """Write everything pending now, in batches; a failed batch stays pending and raises."""
        written = 0
        async with self._flush_lock:
            while self._rows:
                batch = self._rows[: self.flush_rows]
                if self._screen is not None and self._screened < len(batch):
                    try:
                        screened = await self._screen.screen(batch[self._screened :])
                    except Exception:
                        # Screening must never keep visits from being written.
                        log.exception("visit screening failed; the batch is written as is")
                        screened = batch[self._screened :]
                    # Offers only ever append: these positions still hold the same rows.
                    self._rows[self._screened : len(batch)] = screened
                    self._screened = len(batch)
                    batch = self._rows[: len(batch)]
                await self._writer(batch)
                # Offers only ever append, so the batch is still the head of the list.
                del self._rows[: len(batch)]
                self._screened -= len(batch)
                written += len(batch)
            if written and self._screen is not None:
                try:
                    await self._screen.record_crossings()
                except Exception:
                    log.exception("recording what the visit screen found failed")
        return written

    def start(self) -> None:
        """Run the periodic flusher on the current event loop."""
        if self._task is None or self._task.done():
            self._closed = False
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="visit-buffer-flusher"
            )

    async def _run(self) -> None:
        failures = 0
        while not self._closed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.flush_interval_seconds)
            self._wake.clear()
            try:
                await self.flush()
                failures = 0
            except Exception:
                failures += 1
                self.failed_flushes += 1
                log.exception("visit flush failed (%d pending, kept for retry)", self.pending)
                await self._sleep_unless_closed(
                    min(MAX_RETRY_DELAY_SECONDS, self.flush_interval_seconds * 2**failures)
                )

    async def _sleep_unless_closed(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    async def stop(self) -> int:
        """Refuse new visits, end the flusher and write what is left; the rows left unwritten.

        Bounded by `stop_timeout_seconds`: a write still hanging then (a database that stopped
        answering) is cancelled, and the buffer writes nothing more, so a write that did reach
        the database is never repeated.
        """
        self._closed = True
        self._wake.set()
        if self._given_up:
            return self.pending
        deadline = time.monotonic() + self.stop_timeout_seconds
        task, self._task = self._task, None
        # The flusher finishes the batch it is writing; it is cut only at the deadline.
        if task is not None and not await stop_within(
            task, what="visit flusher", seconds=self.stop_timeout_seconds
        ):
            return self._give_up()
        delay = self.flush_interval_seconds
        while self._rows:
            left = deadline - time.monotonic()
            try:
                await asyncio.wait_for(self.flush(), timeout=max(left, MIN_FLUSH_SECONDS))
            except TimeoutError:
                return self._give_up()
            except Exception:
                self.failed_flushes += 1
                if time.monotonic() >= deadline:
                    log.exception("%d visits could not be written at shutdown", self.pending)
                    break
                log.exception("final visit flush failed; retrying")
                await asyncio.sleep(min(delay, max(deadline - time.monotonic(), 0)))
                delay = min(MAX_RETRY_DELAY_SECONDS, delay * 2)
        return self.pending

    def _give_up(self) -> int:
        self._given_up = True
        log.error("%d visits not written: the database did not answer at shutdown", self.pending)
        return self.pending


def install_visit_buffer(app: Sanic, buffer: VisitBuffer) -> None:
    """Put `buffer` on `app.ctx.visit_buffer` and tie it to the server's life cycle."""
    # Pending visits are written as soon as shutdown begins (`before_server_stop`): while
    # connections drain, Sanic may stop the loop before `after_server_stop` runs, and what was
    # acknowledged would be lost. `after_server_stop` (registered after the database listeners,
    # so it runs before the database closes) retries what the first write could not store.
    app.ctx.visit_buffer = buffer

    async def start_visit_buffer(app: Sanic) -> None:
        buffer.start()

    async def stop_visit_buffer(app: Sanic) -> None:
        await buffer.stop()

    app.after_server_start(start_visit_buffer)
    app.before_server_stop(stop_visit_buffer)
    app.after_server_stop(stop_visit_buffer)
