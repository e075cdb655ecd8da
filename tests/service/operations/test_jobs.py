from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest

import jobs.recorded
import jobs.runner
from jobs.recorded import run_recorded
from jobs.runner import cancel_inprocess_jobs, dispatch
from jobs.scheduler import InProcessScheduler, start_inprocess_scheduler, stop_inprocess_scheduler
from jobs.tasks import JOBS, Job
from server import clock
from server.auth import Principal
from server.config import Settings
from server.domain.errors import NotFound
from server.models import AuditLog, JobRun, Program, Promoter, User
from server.services.operations.jobs import (
    job_runs_page,
    list_job_runs,
    start_job_run,
    trigger_job,
)

EXPIRY = "expire_stale_applications"


async def _stale_application(days_ago: int = 45) -> Promoter:
    program = await Program.create(name="Spring", currency="CNY")
    user = await User.create(appid="wx-app", openid=f"openid-{await User.all().count()}")
    return await Promoter.create(
        program=program,
        user=user,
        status="applied",
        applied_at=clock.now() - timedelta(days=days_ago),
    )


async def _explode(settings: Settings) -> dict[str, Any]:
    raise RuntimeError("ledger out of balance")


def _add_job(monkeypatch: pytest.MonkeyPatch, job: Job) -> None:
    """Make `job` known by its name to the dispatcher and the recorded execution."""
    for module in (jobs.runner, jobs.recorded):
        real_get_job = module.get_job
        monkeypatch.setattr(
            module,
            "get_job",
            lambda name, real_get_job=real_get_job: job if name == job.name else real_get_job(name),
        )


async def test_a_job_run_is_recorded_with_its_runner_and_result(
    db: str, settings: Settings
) -> None:
    stale = await _stale_application()

    result = await run_recorded(EXPIRY, runner="inprocess", settings=settings)

    assert result["expired"] == 1
    (run,) = await JobRun.all()
    assert (run.name, run.runner, run.status, run.result["expired"]) == (
        EXPIRY,
        "inprocess",
        "succeeded",
        1,
    )
    assert run.finished_at is not None and run.error is None
    assert (await Promoter.get(id=stale.id)).status == "expired"


async def test_a_failing_job_is_recorded_as_failed_with_its_error_and_still_raises(
    db: str, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    failing = Job(name="explode", body=_explode, every=timedelta(hours=1), description="boom")
    _add_job(monkeypatch, failing)

    with pytest.raises(RuntimeError):
        await run_recorded("explode", runner="celery", settings=settings)

    (run,) = await JobRun.all()
    assert (run.status, run.runner) == ("failed", "celery")
    assert run.error == "RuntimeError: ledger out of balance"
    assert run.finished_at is not None


async def test_without_a_broker_a_dispatched_job_runs_on_the_servers_loop(
    db: str, settings: Settings
) -> None:
    stale = await _stale_application()

    dispatched = await dispatch(EXPIRY, settings=settings)

    assert dispatched.runner == "inprocess"
    assert dispatched.task is not None
    await dispatched.task
    assert (await Promoter.get(id=stale.id)).status == "expired"
    (run,) = await JobRun.all()
    assert (run.runner, run.status) == ("inprocess", "succeeded")


async def test_a_failing_in_process_job_is_recorded_without_crashing_the_loop(
    db: str, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    failing = Job(name="explode", body=_explode, every=timedelta(hours=1), description="boom")
    _add_job(monkeypatch, failing)

    dispatched = await dispatch("explode", settings=settings)

    assert dispatched.task is not None
    assert await dispatched.task is None
    assert await JobRun.filter(status="failed").count() == 1


async def test_an_unknown_job_is_refused_before_anything_runs(db: str, settings: Settings) -> None:
    with pytest.raises(NotFound) as raised:
        await dispatch("reticulate_splines", settings=settings)
    assert raised.value.code == "job_not_found"
    assert await JobRun.all().count() == 0


async def test_the_scheduler_runs_a_job_only_once_per_interval(db: str, settings: Settings) -> None:
    await _stale_application()
    scheduler = InProcessScheduler(settings=settings, jobs=[JOBS[EXPIRY]])

    assert await scheduler.run_due() == [EXPIRY]
    assert await scheduler.run_due() == []

    clock.advance(timedelta(hours=1))
    assert await scheduler.run_due() == [EXPIRY]
    runs = await JobRun.all().order_by("id")
    assert [r.result["expired"] for r in runs] == [1, 0]


def test_the_scheduler_looks_at_the_schedule_as_often_as_its_most_frequent_job(
    settings: Settings,
) -> None:
    # The report refresh and webhook deliveries are due every 30 s: a one-minute look at
    # the schedule ran them once a minute, and report figures grew older than a minute.
    assert min(job.every for job in JOBS.values()) == timedelta(seconds=30)
    assert InProcessScheduler(settings=settings).tick_seconds == 30
    assert InProcessScheduler(settings=settings, jobs=[JOBS[EXPIRY]]).tick_seconds == 60


async def test_the_scheduler_keeps_going_after_a_failing_job(
    db: str, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    stale = await _stale_application()
    failing = Job(name="explode", body=_explode, every=timedelta(hours=1), description="boom")
    _add_job(monkeypatch, failing)
    scheduler = InProcessScheduler(settings=settings, jobs=[failing, JOBS[EXPIRY]])

    assert await scheduler.run_due() == ["explode", EXPIRY]

    outcomes = dict(await JobRun.all().values_list("name", "status"))
    assert outcomes == {"explode": "failed", EXPIRY: "succeeded"}
    assert (await Promoter.get(id=stale.id)).status == "expired"


async def test_job_runs_are_listed_newest_first_in_pages_filtered_by_name(db: str) -> None:
    for name in ("a", "b", "a", "a"):
        await start_job_run(name=name, runner="celery")

    first = await list_job_runs(name="a", limit=2)
    page = job_runs_page(first, limit=2)
    assert [item["name"] for item in page["items"]] == ["a", "a"]
    assert page["items"][0]["id"] > page["items"][1]["id"]
    rest = await list_job_runs(name="a", cursor=page["next_cursor"], limit=2)
    assert job_runs_page(rest, limit=2)["next_cursor"] is None
    assert len(rest) == 1
    assert len(await list_job_runs(status="running")) == 4


async def test_triggering_a_job_is_audited_with_where_it_was_sent(db: str) -> None:
    admin = Principal(kind="staff", id=7, roles=frozenset({"admin"}))

    async def fake_dispatch(name: str) -> dict[str, str]:
        return {"name": name, "runner": "celery", "dispatch_id": "task-1"}

    dispatched = await trigger_job(
        name=EXPIRY, dispatch=fake_dispatch, actor=admin, request_id="req-1"
    )

    assert dispatched["dispatch_id"] == "task-1"
    (entry,) = await AuditLog.filter(action="job.trigger")
    assert (entry.actor_kind, entry.actor_id, entry.request_id) == ("staff", 7, "req-1")
    assert entry.details == dispatched


async def test_a_trigger_that_cannot_be_dispatched_leaves_no_audit_entry(db: str) -> None:
    admin = Principal(kind="staff", id=7, roles=frozenset({"admin"}))

    async def unknown(name: str) -> dict[str, str]:
        raise NotFound("no such job", code="job_not_found")

    with pytest.raises(NotFound):
        await trigger_job(name="nope", dispatch=unknown, actor=admin)
    assert await AuditLog.all().count() == 0


async def test_a_job_cancelled_at_shutdown_is_recorded_as_failed(
    db: str, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = asyncio.Event()

    async def endless(settings: Settings) -> dict[str, Any]:
        started.set()
        await asyncio.Event().wait()
        return {}

    slow = Job(name="slow", body=endless, every=timedelta(hours=1), description="never ends")
    _add_job(monkeypatch, slow)
    await dispatch("slow", settings=settings)
    await started.wait()

    await cancel_inprocess_jobs()

    (run,) = await JobRun.all()
    assert (run.status, run.error) == ("failed", "CancelledError")


async def test_the_server_runs_the_schedule_only_when_jobs_are_in_process(
    db: str, settings: Settings
) -> None:
    with_broker = SimpleNamespace(
        ctx=SimpleNamespace(settings=replace(settings, celery_broker_url="redis://x:1/0"))
    )
    await start_inprocess_scheduler(with_broker)  # type: ignore[arg-type]
    assert getattr(with_broker.ctx, "job_scheduler", None) is None

    embedded = SimpleNamespace(ctx=SimpleNamespace(settings=settings))
    await start_inprocess_scheduler(embedded)  # type: ignore[arg-type]
    scheduler = embedded.ctx.job_scheduler
    assert scheduler.running
    await stop_inprocess_scheduler(embedded)  # type: ignore[arg-type]
    assert not scheduler.running
    assert embedded.ctx.job_scheduler is None
