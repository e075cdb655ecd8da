"""Dispatching jobs: to a Celery worker when CELERY_BROKER_URL is set, else as a task on
the server's own event loop (the embedded default), both through `run_recorded`."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from jobs.recorded import run_recorded
from jobs.tasks import get_job
from server.background import finish_within
from server.config import Settings
from server.domain.errors import UpstreamUnavailable, ValidationFailed
from server.services.operations.jobs import RUNNER_CELERY, RUNNER_INPROCESS

log = logging.getLogger("fenxiao.jobs")

# Bounded: an unreachable broker must answer the admin quickly, not retry for minutes.
PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.5,
    "interval_max": 1,
}

# The loop keeps only weak references to tasks: hold in-process jobs here until they end.
_inflight: set[asyncio.Task[dict[str, Any] | None]] = set()


@dataclass(frozen=True)
class Dispatched:
    """Where a job went: its runner and the id that runner knows it by."""

    name: str
    runner: str
    dispatch_id: str
    # The in-process execution, for callers (tests, shutdown) that want to await it.
    task: asyncio.Task[dict[str, Any] | None] | None = field(
        default=None, compare=False, repr=False
    )

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "runner": self.runner, "dispatch_id": self.dispatch_id}


def choose_runner(settings: Settings) -> str:
    """`inprocess` without a broker (the embedded default), `celery` with one."""
    return RUNNER_INPROCESS if settings.jobs_in_process else RUNNER_CELERY


async def _run_inprocess(
    name: str, settings: Settings, arguments: Mapping[str, Any]
) -> dict[str, Any] | None:
    try:
        return await run_recorded(
            name, runner=RUNNER_INPROCESS, settings=settings, arguments=arguments
        )
    except Exception:
        # Already logged and recorded on the JobRun row; nobody awaits a fire-and-forget job.
        return None


def _json_arguments(arguments: Mapping[str, Any] | None) -> dict[str, Any]:
    # Celery only carries JSON; refusing anything else here keeps both runners identical.
    try:
        return json.loads(json.dumps(dict(arguments or {})))
    except (TypeError, ValueError):
        raise ValidationFailed(
            "job arguments must be JSON values", code="invalid_job_arguments"
        ) from None


async def dispatch(
    name: str,
    *,
    settings: Settings,
    arguments: Mapping[str, Any] | None = None,
    queue: str | None = None,
) -> Dispatched:
    """Send job `name` to Celery when a broker is configured, else run it on this loop.

    `queue` overrides the Celery queue (ignored in-process). Unknown names raise NotFound
    before anything is queued.
    """
    get_job(name)
    payload = _json_arguments(arguments)
    if choose_runner(settings) == RUNNER_INPROCESS:
        task = asyncio.get_running_loop().create_task(
            _run_inprocess(name, settings, payload), name=f"job:{name}"
        )
        _inflight.add(task)
        task.add_done_callback(_inflight.discard)
        return Dispatched(
            name=name, runner=RUNNER_INPROCESS, dispatch_id=uuid.uuid4().hex, task=task
        )
    # Imported here so the embedded default never loads Celery or kombu.
    from kombu.exceptions import OperationalError

    from jobs.celery_app import celery_app_for

    celery = celery_app_for(settings)
    try:
        # Publishing is blocking network I/O: keep it off the event loop.
        sent = await asyncio.to_thread(
            celery.send_task,
            get_job(name).task_name,
            kwargs=payload,
            queue=queue,
            retry=True,
            retry_policy=PUBLISH_RETRY_POLICY,
        )
    except OperationalError as exc:
        log.error("could not publish job %s: %s", name, exc)
        raise UpstreamUnavailable(
            "the job broker is unreachable", code="job_broker_unavailable"
        ) from None
    return Dispatched(name=name, runner=RUNNER_CELERY, dispatch_id=sent.id)


def dispatcher(settings: Settings) -> Callable[[str], Awaitable[dict[str, str]]]:
    """`dispatch` bound to `settings`, in the shape services.jobs.trigger_job takes."""

    async def dispatch_now(name: str) -> dict[str, str]:
        return (await dispatch(name, settings=settings)).to_dict()

    return dispatch_now


async def wait_for_inprocess_jobs() -> None:
    """Wait until every in-process job dispatched so far has finished."""
    while _inflight:
        await asyncio.gather(*list(_inflight), return_exceptions=True)


async def cancel_inprocess_jobs() -> None:
    """Cancel in-process jobs still running and wait for them to record their end."""
    pending = list(_inflight)
    for task in pending:
        task.cancel()
    if pending:
        await finish_within(
            asyncio.gather(*pending, return_exceptions=True), what="cancelled in-process jobs"
        )
