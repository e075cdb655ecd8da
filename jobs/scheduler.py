"""The beat schedule run inside the server when no broker is configured (the embedded default);
its two Sanic listeners do nothing when Celery beat owns the schedule.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from sanic import Sanic

from jobs.recorded import run_recorded
from jobs.runner import cancel_inprocess_jobs
from jobs.tasks import JOBS, Job
from server import clock
from server.background import stop_within
from server.config import Settings
from server.services.operations.jobs import RUNNER_INPROCESS, last_job_run_started_at

log = logging.getLogger("fenxiao.jobs.scheduler")

# The longest wait between two looks at the schedule; shorter when a job is due more often.
DEFAULT_TICK_SECONDS = 60.0
# Let the server finish starting (and short-lived test servers stop) before the first tick.
DEFAULT_FIRST_TICK_DELAY_SECONDS = 10.0


class InProcessScheduler:
    """Runs each due job, one at a time, on the current event loop."""

    def __init__(
        self,
        *,
        settings: Settings,
        jobs: Iterable[Job] | None = None,
        tick_seconds: float | None = None,
        first_tick_delay_seconds: float = DEFAULT_FIRST_TICK_DELAY_SECONDS,
    ) -> None:
        self.settings = settings
        self.jobs = list(JOBS.values() if jobs is None else jobs)
        # A job every 30 s looked at once a minute would run once a minute (the report
        # refresh, whose figures must be at most a minute old).
        self.tick_seconds = tick_seconds or min(
            [DEFAULT_TICK_SECONDS, *(job.every.total_seconds() for job in self.jobs)]
        )
        self.first_tick_delay_seconds = first_tick_delay_seconds
        self._loop_task: asyncio.Task[None] | None = None

    async def _is_due(self, job: Job) -> bool:
        last = await last_job_run_started_at(name=job.name)
        return last is None or clock.now() - last >= job.every

    async def run_due(self) -> list[str]:
        """Run every job that is due now; return the names of those that ran."""
        ran: list[str] = []
        for job in self.jobs:
            try:
                if not await self._is_due(job):
                    continue
                ran.append(job.name)
                await run_recorded(job.name, runner=RUNNER_INPROCESS, settings=self.settings)
            except Exception:
                # Recorded on the JobRun row (or the database is down): try again next tick.
                log.exception("scheduled job %s did not complete", job.name)
        return ran

    async def _run_forever(self) -> None:
        await asyncio.sleep(self.first_tick_delay_seconds)
        while True:
            await self.run_due()
            await asyncio.sleep(self.tick_seconds)

    @property
    def running(self) -> bool:
        return self._loop_task is not None and not self._loop_task.done()

    def start(self) -> None:
        if self.running:
            return
        self._loop_task = asyncio.get_running_loop().create_task(
            self._run_forever(), name="jobs:scheduler"
        )

    async def stop(self) -> None:
        task, self._loop_task = self._loop_task, None
        if task is None:
            return
        task.cancel()
        await stop_within(task, what="in-process job scheduler")


async def start_inprocess_scheduler(app: Sanic) -> None:
    """Sanic listener: run the beat schedule in this worker when jobs are in-process."""
    settings: Settings = app.ctx.settings
    if not settings.jobs_in_process:
        return
    scheduler = InProcessScheduler(settings=settings)
    scheduler.start()
    app.ctx.job_scheduler = scheduler
    log.info("in-process job scheduler started: %s", ", ".join(j.name for j in scheduler.jobs))


async def stop_inprocess_scheduler(app: Sanic) -> None:
    """Sanic listener: stop the schedule and cancel in-process jobs before the database closes."""
    scheduler: InProcessScheduler | None = getattr(app.ctx, "job_scheduler", None)
    if scheduler is not None:
        await scheduler.stop()
        app.ctx.job_scheduler = None
    await cancel_inprocess_jobs()
