"""A Celery worker killed in the middle of a settlement run loses no task and pays nothing twice:
the unacknowledged task goes back to the queue (acks late + the broker's visibility timeout),
the next worker runs it again, and the run, being idempotent, settles only what is left.

MariaDB only: the test holds one commission's row lock, so the first worker settles exactly the
commissions before it and then waits; the kill lands mid-run by construction, not by timing.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from jobs.runner import dispatch
from server import clock
from server.config import Settings
from server.models import Commission, LedgerEntry, Order, OrderLine, PromoterBalance
from tests.conftest import BACKEND
from tests.e2e.conftest import (
    forget_queue,
    new_queue,
    start_celery_worker,
    stop_celery_worker,
)
from tests.ledger_checks import assert_ledger_reconciles
from tests.service.promoters.test_hierarchy import new_program, new_promoter
from tests.service.test_migration_upgrade import _mysql

pytestmark = [
    pytest.mark.redis,
    pytest.mark.e2e,
    pytest.mark.skipif(BACKEND != "mysql", reason="holds a MariaDB row lock to stop the run"),
]

COMMISSIONS = 600
BATCH_SIZE = 5  # a run of many short transactions, each locking its commissions
# The first worker settles this many (whole batches), then waits on the next one's row lock.
SETTLED_BEFORE_THE_LOCK = 300
DEADLINE_SECONDS = 120
VISIBILITY_TIMEOUT_SECONDS = "2"
RESTORE_AFTER_SECONDS = float(VISIBILITY_TIMEOUT_SECONDS) + 0.5


async def _due_commissions(count: int) -> Decimal:
    """`count` approved, unlocked commissions of one promoter; returns their total."""
    program = await new_program()
    promoter = await new_promoter(program)
    order = await Order.create(
        program=program,
        external_id="restart-1",
        status="completed",
        currency=program.currency,
        total_amount=Decimal(count * 10),
        placed_at=clock.now(),
    )
    await OrderLine.bulk_create(
        [
            OrderLine(
                order=order,
                line_ref=str(i),
                product_id="sku",
                quantity=1,
                unit_price=Decimal(10),
                amount=Decimal(10),
            )
            for i in range(count)
        ]
    )
    lines = await OrderLine.filter(order_id=order.id).order_by("id")
    unlocked = clock.now()
    await Commission.bulk_create(
        [
            Commission(
                program=program,
                order=order,
                order_line=line,
                promoter=promoter,
                level=1,
                currency=program.currency,
                status="approved",
                kind="percent",
                rate=Decimal(10),
                quantity=1,
                line_amount=Decimal(10),
                base_amount=Decimal(10),
                rule_source="program_level",
                amount=Decimal("1.00"),
                original_amount=Decimal("1.00"),
                unlock_at=unlocked,
            )
            for line in lines
        ]
    )
    return Decimal(count)


async def _settled() -> int:
    return await Commission.filter(status="settled").count()


@contextmanager
def _row_lock_held(database_url: str, commission_id: int) -> Iterator[None]:
    """One commission's row locked FOR UPDATE by another connection until the block ends."""
    with _mysql(urlsplit(database_url).path.lstrip("/")) as holder:
        holder.begin()
        try:
            with holder.cursor() as cursor:
                cursor.execute(
                    "SELECT id FROM commissions WHERE id = %s FOR UPDATE", [commission_id]
                )
            yield
        finally:
            holder.rollback()


async def _wait_for(condition, worker, *, what: str) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE_SECONDS
    while not await condition():
        if worker.process.poll() is not None:
            pytest.fail(f"the worker exited early:\n{worker.output()}")
        if loop.time() > deadline:
            pytest.fail(f"{what}: not within {DEADLINE_SECONDS}s\n{worker.output()}")
        await asyncio.sleep(0.02)


async def test_a_worker_killed_mid_settlement_loses_no_task_and_settles_each_commission_once(
    db: str, database_url: str, redis_url: str, tmp_path: Path
) -> None:
    total = await _due_commissions(COMMISSIONS)
    queue = new_queue()
    settings = Settings(
        environment="test",
        database_url=database_url,
        celery_broker_url=redis_url,
        celery_result_backend=redis_url,
    )
    log_path = tmp_path / "workers.log"

    def worker():  # type: ignore[no-untyped-def]
        return start_celery_worker(
            queue=queue,
            redis_url=redis_url,
            database_url=database_url,
            log_path=log_path,
            CELERY_VISIBILITY_TIMEOUT_SECONDS=VISIBILITY_TIMEOUT_SECONDS,
        )

    ids = await Commission.all().order_by("id").values_list("id", flat=True)
    first = worker()
    second = None
    try:
        with _row_lock_held(database_url, ids[SETTLED_BEFORE_THE_LOCK]):
            await dispatch(
                "settle_due_commissions",
                settings=settings,
                arguments={"batch_size": BATCH_SIZE},
                queue=queue,
            )

            async def waiting_on_the_lock() -> bool:
                return await _settled() >= SETTLED_BEFORE_THE_LOCK

            await _wait_for(waiting_on_the_lock, first, what="the first worker settling")
            delivered_before = time.time()  # the task is running: Redis handed it out before now
            first.process.send_signal(signal.SIGKILL)  # no warm shutdown: the task is mid-run
            first.process.wait()
        assert await _settled() == SETTLED_BEFORE_THE_LOCK

        # A starting worker gives back the tasks whose visibility timeout has passed; later it
        # only sweeps every ~100 s (kombu's restore interval x throttle). Start it once the
        # task's timeout is over, as a worker restarted after a crash would be.
        await asyncio.sleep(max(0.0, delivered_before + RESTORE_AFTER_SECONDS - time.time()))
        second = worker()

        async def all_settled() -> bool:
            return await _settled() == COMMISSIONS

        await _wait_for(all_settled, second, what="the restarted worker finishing the run")
    finally:
        for running in (first, second):
            if running is not None and running.process.poll() is None:
                stop_celery_worker(running)
        forget_queue(redis_url, queue)

    settled_ids = await LedgerEntry.filter(kind="settle").values_list("commission_id", flat=True)
    assert len(settled_ids) == len(set(settled_ids)) == COMMISSIONS  # each once, none twice
    [balance] = await PromoterBalance.all()
    assert balance.available == total
    await assert_ledger_reconciles()
