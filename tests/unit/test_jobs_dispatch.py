from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from kombu.exceptions import OperationalError

import jobs.celery_app
import jobs.runner
from jobs.celery_app import create_celery_app
from jobs.runner import choose_runner, dispatch
from jobs.tasks import JOBS
from server.config import ConfigError, Settings
from server.domain.errors import NotFound, UpstreamUnavailable, ValidationFailed

EXPIRY = "expire_stale_applications"
BROKER = "redis://127.0.0.1:6379/15"


class FakeCelery:
    """Stands in for the broker: records what would have been published."""

    def __init__(self, error: Exception | None = None) -> None:
        self.sent: list[tuple[str, dict[str, Any], str | None]] = []
        self.error = error

    def send_task(self, name: str, *, kwargs: dict[str, Any], queue: str | None, **_: Any) -> Any:
        if self.error is not None:
            raise self.error
        self.sent.append((name, kwargs, queue))
        return SimpleNamespace(id="celery-task-id")


@pytest.fixture
def fake_celery(monkeypatch: pytest.MonkeyPatch) -> FakeCelery:
    fake = FakeCelery()
    monkeypatch.setattr(jobs.celery_app, "celery_app_for", lambda settings: fake)
    return fake


@pytest.fixture
def inprocess_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, dict[str, Any]]]:
    calls: list[tuple[str, str, dict[str, Any]]] = []

    async def fake_run_recorded(
        name: str, *, runner: str, settings: Settings, arguments: dict[str, Any]
    ) -> dict[str, Any]:
        calls.append((name, runner, dict(arguments)))
        return {"ok": True}

    monkeypatch.setattr(jobs.runner, "run_recorded", fake_run_recorded)
    return calls


def test_without_a_broker_jobs_run_in_process() -> None:
    assert choose_runner(Settings()) == "inprocess"


def test_with_a_broker_jobs_go_to_celery() -> None:
    assert choose_runner(Settings(celery_broker_url=BROKER)) == "celery"


async def test_dispatch_without_a_broker_runs_the_job_on_the_current_loop(
    fake_celery: FakeCelery, inprocess_calls: list[tuple[str, str, dict[str, Any]]]
) -> None:
    dispatched = await dispatch(EXPIRY, settings=Settings(), arguments={"dry": False})

    assert dispatched.task is not None
    assert await dispatched.task == {"ok": True}
    assert inprocess_calls == [(EXPIRY, "inprocess", {"dry": False})]
    assert fake_celery.sent == []


async def test_dispatch_with_a_broker_publishes_the_task_and_runs_nothing_here(
    fake_celery: FakeCelery, inprocess_calls: list[tuple[str, str, dict[str, Any]]]
) -> None:
    dispatched = await dispatch(EXPIRY, settings=Settings(celery_broker_url=BROKER), queue="q1")

    assert dispatched.to_dict() == {
        "name": EXPIRY,
        "runner": "celery",
        "dispatch_id": "celery-task-id",
    }
    assert fake_celery.sent == [("fenxiao." + EXPIRY, {}, "q1")]
    assert inprocess_calls == []


async def test_an_unreachable_broker_is_a_coded_upstream_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    broken = FakeCelery(error=OperationalError("connection refused"))
    monkeypatch.setattr(jobs.celery_app, "celery_app_for", lambda settings: broken)

    with pytest.raises(UpstreamUnavailable) as raised:
        await dispatch(EXPIRY, settings=Settings(celery_broker_url=BROKER))
    assert raised.value.code == "job_broker_unavailable"


async def test_an_unknown_job_is_refused_on_either_runner(fake_celery: FakeCelery) -> None:
    for settings in (Settings(), Settings(celery_broker_url=BROKER)):
        with pytest.raises(NotFound) as raised:
            await dispatch("reticulate_splines", settings=settings)
        assert raised.value.code == "job_not_found"
    assert fake_celery.sent == []


async def test_arguments_celery_could_not_carry_are_refused_in_process_too(
    inprocess_calls: list[tuple[str, str, dict[str, Any]]],
) -> None:
    with pytest.raises(ValidationFailed) as raised:
        await dispatch(EXPIRY, settings=Settings(), arguments={"when": object()})
    assert raised.value.code == "invalid_job_arguments"
    assert inprocess_calls == []


def test_the_celery_app_carries_json_only_and_survives_lost_workers() -> None:
    conf = create_celery_app(Settings(celery_broker_url=BROKER)).conf

    assert conf.task_serializer == "json"
    assert conf.result_serializer == "json"
    assert list(conf.accept_content) == ["json"]
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.broker_connection_retry_on_startup is True


def test_every_job_is_a_registered_task_on_the_beat_schedule() -> None:
    app = create_celery_app(Settings(celery_broker_url=BROKER))

    for job in JOBS.values():
        assert job.task_name in app.tasks
        entry = app.conf.beat_schedule[job.name]
        assert entry["task"] == job.task_name
        assert entry["schedule"] == job.every.total_seconds()


def test_a_worker_without_a_broker_refuses_to_start_with_a_clear_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    jobs.celery_app._app_from_environment.cache_clear()
    try:
        with pytest.raises(ConfigError, match="CELERY_BROKER_URL"):
            _ = jobs.celery_app.app
    finally:
        jobs.celery_app._app_from_environment.cache_clear()
