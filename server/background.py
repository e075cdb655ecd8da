"""Background work of a server worker ends within a deadline once the server stops: a task
stuck on a dead database connection is cancelled rather than holding the process up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

log = logging.getLogger("fenxiao.background")

# Each background task's share of a worker's stop; what it had claimed is taken back later
# (the order event inbox's leases, the visit buffer's retry window), never written twice.
STOP_DEADLINE_SECONDS = 5.0


async def stop_within(
    task: asyncio.Task[Any], *, what: str, seconds: float = STOP_DEADLINE_SECONDS
) -> bool:
    """Wait up to `seconds` for `task` to end, then cancel it; True if it ended by itself."""
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if not done:
        log.warning("%s still running %.1f s after the stop began: cancelled", what, seconds)
        task.cancel()
        # A task that swallows its cancellation must not hold the stop up either.
        await asyncio.wait({task}, timeout=seconds)
    if task.done() and not task.cancelled() and task.exception() is not None:
        log.error("%s failed", what, exc_info=task.exception())
    return bool(done)


async def finish_within(
    work: Awaitable[Any], *, what: str, seconds: float = STOP_DEADLINE_SECONDS
) -> bool:
    """Run `work` (a step of the stop) for up to `seconds`; False if it was cut short."""
    return await stop_within(asyncio.ensure_future(work), what=what, seconds=seconds)
