"""Background job bookkeeping: one JobRun row per execution, listing runs, manual triggers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

from tortoise.transactions import in_transaction

from server import clock
from server.auth import Principal
from server.domain.errors import ValidationFailed
from server.domain.pagination import check_page_limit, next_cursor
from server.models import JobRun
from server.services.access.audit import record_action

RUNNER_CELERY = "celery"
RUNNER_INPROCESS = "inprocess"
RUNNERS = frozenset({RUNNER_CELERY, RUNNER_INPROCESS})

STATUS_RUNNING = "running"
STATUS_SUCCEEDED = "succeeded"
STATUS_FAILED = "failed"
STATUSES = frozenset({STATUS_RUNNING, STATUS_SUCCEEDED, STATUS_FAILED})


# Tracebacks can be long; the head names the error, the rest belongs in the logs.
MAX_ERROR_LENGTH = 4000

# Sends a known job to the configured runner and describes where it went
# ({"name", "runner", "dispatch_id"}); unknown names raise NotFound.
JobDispatch = Callable[[str], Awaitable[Mapping[str, Any]]]


async def start_job_run(*, name: str, runner: str) -> JobRun:
    """Record that `runner` has started executing the job `name`."""
    if runner not in RUNNERS:
        raise ValidationFailed(
            "unknown job runner", code="invalid_job_runner", fields={"runner": runner}
        )
    return await JobRun.create(
        name=name, runner=runner, status=STATUS_RUNNING, result={}, started_at=clock.now()
    )


async def finish_job_run(*, run_id: int, result: Mapping[str, Any]) -> None:
    """Mark a running job run as succeeded with its JSON result."""
    await JobRun.filter(id=run_id, status=STATUS_RUNNING).update(
        status=STATUS_SUCCEEDED, result=dict(result), finished_at=clock.now()
    )


async def fail_job_run(*, run_id: int, error: str) -> None:
    """Mark a running job run as failed with a description of the error."""
    await JobRun.filter(id=run_id, status=STATUS_RUNNING).update(
        status=STATUS_FAILED, error=error[:MAX_ERROR_LENGTH], finished_at=clock.now()
    )


async def last_job_run_started_at(*, name: str) -> datetime | None:
    """When the most recent run of `name` started, whatever its outcome."""
    latest = await JobRun.filter(name=name).order_by("-id").only("id", "started_at").first()
    return latest.started_at if latest else None


async def list_job_runs(
    *,
    name: str | None = None,
    cursor: int | None = None,
    limit: int = 50,
    status: str | None = None,
) -> list[JobRun]:
    """Job runs newest first; `cursor` is the last id of the previous page."""
    check_page_limit(limit)
    if status is not None and status not in STATUSES:
        raise ValidationFailed(
            "unknown job run status", code="invalid_status", fields={"status": status}
        )
    query = JobRun.all()
    if name is not None:
        query = query.filter(name=name)
    if status is not None:
        query = query.filter(status=status)
    if cursor is not None:
        query = query.filter(id__lt=cursor)
    return await query.order_by("-id").limit(limit)


async def trigger_job(
    *, name: str, dispatch: JobDispatch, actor: Principal, request_id: str | None = None
) -> dict[str, Any]:
    """Run a known job now through the configured runner (audited)."""
    # Dispatch first: an entry for a job that never reached its runner would be a false record.
    dispatched = dict(await dispatch(name))
    async with in_transaction() as conn:
        await record_action(
            actor=actor,
            action="job.trigger",
            target_kind="job",
            target_id=None,
            details=dispatched,
            request_id=request_id,
            using_db=conn,
        )
    return dispatched


def serialize_job_run(run: JobRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "name": run.name,
        "runner": run.runner,
        "status": run.status,
        "result": run.result,
        "error": run.error,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
    }


def job_runs_page(runs: list[JobRun], *, limit: int) -> dict[str, Any]:
    """A page of runs with the cursor of the next page (None on the last one)."""
    return {
        "items": [serialize_job_run(run) for run in runs],
        "next_cursor": next_cursor([row.id for row in runs], limit),
    }
