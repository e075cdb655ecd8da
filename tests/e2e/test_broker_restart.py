"""The broker restarted in the middle of a settlement run (Redis configured as in
deploy/redis/redis.conf: append-only file on): the run finishes, every commission is settled
exactly once, and the worker goes on taking tasks from the restarted broker."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import redis

from jobs.celery_app import celery_app_for
from jobs.runner import dispatch
from server.config import Settings
from server.models import Commission, LedgerEntry
from tests.e2e.conftest import new_queue, start_celery_worker, stop_celery_worker
from tests.e2e.test_worker_restart import BATCH_SIZE, COMMISSIONS, _due_commissions, _wait_for
from tests.ledger_checks import assert_ledger_reconciles

pytestmark = [pytest.mark.redis, pytest.mark.e2e]

SETTLED_BEFORE_RESTART = 40


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_redis(port: int, directory: Path) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [
            "redis-server",
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--dir", str(directory),
            "--appendonly", "yes",
            "--appendfsync", "always",
            "--save", "",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    client = redis.Redis(port=port, socket_connect_timeout=1)
    deadline = time.monotonic() + 20
    while True:
        try:
            client.ping()
            return process
        except redis.RedisError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise
            time.sleep(0.1)
        finally:
            client.close()


async def test_a_broker_restart_mid_settlement_loses_nothing_and_pays_nothing_twice(
    db: str, database_url: str, redis_url: str, tmp_path: Path
) -> None:
    total = await _due_commissions(COMMISSIONS)
    port = _free_port()
    broker = f"redis://127.0.0.1:{port}/0"
    redis_process = _start_redis(port, tmp_path)
    queue = new_queue()
    settings = Settings(
        environment="test",
        database_url=database_url,
        celery_broker_url=broker,
        celery_result_backend=broker,
    )
    worker = start_celery_worker(
        queue=queue,
        redis_url=broker,
        database_url=database_url,
        log_path=tmp_path / "worker.log",
        CELERY_VISIBILITY_TIMEOUT_SECONDS="2",
    )
    try:
        await dispatch(
            "settle_due_commissions",
            settings=settings,
            arguments={"batch_size": BATCH_SIZE},
            queue=queue,
        )

        async def some_settled() -> bool:
            return await Commission.filter(status="settled").count() >= SETTLED_BEFORE_RESTART

        await _wait_for(some_settled, worker, what="settling before the restart")
        redis_process.send_signal(signal.SIGKILL)  # the broker dies; its AOF survives
        redis_process.wait()
        assert await Commission.filter(status="settled").count() < COMMISSIONS, "inconclusive"
        redis_process = _start_redis(port, tmp_path)

        async def all_settled() -> bool:
            return await Commission.filter(status="settled").count() == COMMISSIONS

        await _wait_for(all_settled, worker, what="settling after the restart")

        later = await dispatch("reconcile_ledger", settings=settings, queue=queue)
        outcome = celery_app_for(settings).AsyncResult(later.dispatch_id)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while not await asyncio.to_thread(outcome.ready):
            assert loop.time() < deadline, worker.output()
            await asyncio.sleep(0.2)
        assert outcome.state == "SUCCESS", worker.output()
    finally:
        stop_celery_worker(worker)
        redis_process.kill()
        redis_process.wait()

    settled_ids = await LedgerEntry.filter(kind="settle").values_list("commission_id", flat=True)
    assert len(settled_ids) == len(set(settled_ids)) == COMMISSIONS
    assert sum([c.settled_amount for c in await Commission.all()]) == total
    await assert_ledger_reconciles()
