"""The recorded execution both runners share: every job run is a JobRun row."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from jobs.tasks import get_job
from server.config import Settings
from server.metrics import count_job_run
from server.services.operations.jobs import (
    STATUS_FAILED,
    STATUS_SUCCEEDED,
    fail_job_run,
    finish_job_run,
    start_job_run,
)

log = logging.getLogger("fenxiao.jobs")


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


async def run_recorded(
    name: str,
    *,
    runner: str,
    settings: Settings,
    arguments: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Execute job `name` now, recording it as a JobRun; failures are recorded and re-raised."""
    job = get_job(name)
    run = await start_job_run(name=name, runner=runner)
    log.info("job %s started (run %s, %s)", name, run.id, runner)
    try:
        result = await job.body(settings, **dict(arguments or {}))
    except (Exception, asyncio.CancelledError) as exc:
        log.exception("job %s failed (run %s)", name, run.id)
        await fail_job_run(run_id=run.id, error=_describe(exc))
        count_job_run(name, STATUS_FAILED)
        raise
    await finish_job_run(run_id=run.id, result=result)
    count_job_run(name, STATUS_SUCCEEDED)
    log.info("job %s succeeded (run %s): %s", name, run.id, result)
    return result
