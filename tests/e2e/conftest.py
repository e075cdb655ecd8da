"""Real processes for end-to-end tests: a Celery worker on Redis, against the run's database."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import IN_CI, REDIS_URL, TEST_JWT_SECRET

ROOT = Path(__file__).resolve().parents[2]
WORKER_STOP_SECONDS = 10


@pytest.fixture(scope="session")
def redis_url() -> str:
    """TEST_REDIS_URL if Redis answers; with CI=true an unreachable Redis fails the test."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        if IN_CI:
            pytest.fail(f"Redis unreachable at {REDIS_URL}: {exc}", pytrace=False)
        pytest.skip(f"Redis unreachable at {REDIS_URL} ({exc}); with CI=true this fails")
    finally:
        client.close()
    return REDIS_URL


@dataclass
class CeleryWorker:
    process: subprocess.Popen[bytes]
    queue: str
    log_path: Path

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


def forget_queue(redis_url: str, queue: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
    finally:
        client.close()


def start_celery_worker(
    *, queue: str, redis_url: str, database_url: str, log_path: Path, **extra_env: str
) -> CeleryWorker:
    """A real `celery worker` subprocess consuming `queue` (the caller stops it)."""
    env = {
        **os.environ,
        "FENXIAO_ENV": "test",
        "CELERY_BROKER_URL": redis_url,
        "CELERY_RESULT_BACKEND": redis_url,
        "DATABASE_URL": database_url,
        "JWT_SECRET": TEST_JWT_SECRET,
        "APPLICATION_EXPIRY_DAYS": "30",
        **extra_env,
    }
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "jobs.celery_app",
                "worker",
                "-P",
                "solo",
                "-Q",
                queue,
                "-n",
                f"{queue}-{secrets.token_hex(3)}@%h",
                "--without-heartbeat",
                "--without-mingle",
                "--without-gossip",
                "--loglevel=INFO",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return CeleryWorker(process=process, queue=queue, log_path=log_path)


def stop_celery_worker(worker: CeleryWorker) -> None:
    worker.process.terminate()
    try:
        worker.process.wait(timeout=WORKER_STOP_SECONDS)
    except subprocess.TimeoutExpired:
        worker.process.kill()
        worker.process.wait()


def new_queue() -> str:
    return f"fenxiao-test-{secrets.token_hex(6)}"


@pytest.fixture
def celery_worker(redis_url: str, database_url: str, tmp_path: Path) -> Iterator[CeleryWorker]:
    """A real `celery worker` subprocess on its own queue, killed at the end whatever happens.

    The queue name is unique so parallel runs (SQLite and MariaDB passes) sharing one Redis
    database never consume each other's tasks.
    """
    worker = start_celery_worker(
        queue=new_queue(),
        redis_url=redis_url,
        database_url=database_url,
        log_path=tmp_path / "celery-worker.log",
    )
    try:
        yield worker
    finally:
        stop_celery_worker(worker)
        forget_queue(redis_url, worker.queue)
