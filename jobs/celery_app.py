"""The Celery app: `celery -A jobs.celery_app worker` and `celery -A jobs.celery_app beat`.

The worker and beat read their settings from the environment (CELERY_BROKER_URL is required,
CELERY_RESULT_BACKEND optional, DATABASE_URL as for the server). The server builds its own app
from its Settings through `celery_app_for`, only to send tasks.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Mapping
from typing import Any

from celery import Celery
from celery.signals import setup_logging

from jobs.recorded import run_recorded
from jobs.tasks import JOBS, Job
from server.config import ConfigError, Settings
from server.db import close_db, init_db
from server.logging_setup import configure_logging
from server.services.operations.jobs import RUNNER_CELERY

DEFAULT_QUEUE = "fenxiao"


async def _run_with_database(job: Job, settings: Settings, arguments: Mapping[str, Any]) -> Any:
    # tortoise binds its connections to the running loop: open, use and close them all
    # inside this one asyncio.run, or the next task finds a dead context.
    await init_db(settings.database_url)
    try:
        return await run_recorded(
            job.name, runner=RUNNER_CELERY, settings=settings, arguments=arguments
        )
    finally:
        await close_db()


@setup_logging.connect
def _configure_logging(**_: Any) -> None:
    # Connected, this replaces Celery's own logging set-up: the worker and beat log in the
    # server's format (JSON lines in production) and at LOG_LEVEL.
    settings = Settings.from_env()
    configure_logging(log_format=settings.log_format, level=settings.log_level)


def _register(app: Celery, job: Job, settings: Settings) -> None:
    def run(**arguments: Any) -> Any:
        return asyncio.run(_run_with_database(job, settings, arguments))

    run.__doc__ = job.description
    # Not shared: each app (worker, server, tests) binds the task to its own settings.
    app.task(name=job.task_name, shared=False)(run)


def create_celery_app(settings: Settings) -> Celery:
    """A Celery app for `settings`' broker with every job registered as a task."""
    app = Celery(
        "fenxiao",
        broker=settings.celery_broker_url,
        backend=settings.celery_result_backend,
        set_as_current=False,
    )
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        broker_transport_options={"visibility_timeout": settings.celery_visibility_timeout_seconds},
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        task_default_queue=DEFAULT_QUEUE,
        timezone="UTC",
        enable_utc=True,
        beat_schedule={
            job.name: {
                "task": job.task_name,
                "schedule": job.every.total_seconds(),
                # A tick nobody consumed before the next one is due is redundant: drop it.
                "options": {"expires": job.every.total_seconds()},
            }
            for job in JOBS.values()
        },
    )
    for job in JOBS.values():
        _register(app, job, settings)
    return app


@functools.lru_cache(maxsize=4)
def celery_app_for(settings: Settings) -> Celery:
    """The (cached) Celery app the server uses to send tasks to `settings`' broker."""
    if not settings.celery_broker_url:
        raise ConfigError("no CELERY_BROKER_URL: jobs run in-process")
    return create_celery_app(settings)


@functools.cache
def _app_from_environment() -> Celery:
    settings = Settings.from_env()
    if not settings.celery_broker_url:
        raise ConfigError(
            "CELERY_BROKER_URL is required to run a Celery worker or beat "
            "(without it the server runs jobs in-process)"
        )
    return create_celery_app(settings)


def __getattr__(name: str) -> Celery:
    # `celery -A jobs.celery_app` looks up `app`; building it lazily keeps importing this
    # module (for the factory) free of environment reads.
    if name in ("app", "celery"):
        return _app_from_environment()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
