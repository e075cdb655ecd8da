from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from jobs.celery_app import celery_app_for
from jobs.runner import dispatch
from server import clock
from server.config import Settings
from server.models import (
    JobRun,
    PayoutItem,
    Program,
    Promoter,
    PromoterStatusChange,
    User,
    Withdrawal,
)
from tests.e2e.conftest import CeleryWorker
from tests.ledger_checks import assert_ledger_reconciles
from tests.withdrawal_builders import funded_promoter, rules_program

pytestmark = [pytest.mark.redis, pytest.mark.e2e]

EXPIRY = "expire_stale_applications"
RESULT_DEADLINE_SECONDS = 60
POLL_SECONDS = 0.2


async def _application(program: Program, openid: str, *, days_ago: int) -> Promoter:
    user = await User.create(appid="wx-app", openid=openid)
    return await Promoter.create(
        program=program,
        user=user,
        status="applied",
        applied_at=clock.now() - timedelta(days=days_ago),
    )


async def test_a_real_celery_worker_expires_stale_applications_sent_through_redis(
    db: str, database_url: str, redis_url: str, celery_worker: CeleryWorker
) -> None:
    # Written through autocommit statements: committed before the task is sent, so the
    # worker's own connection sees them.
    program = await Program.create(name="Spring", currency="CNY")
    stale = await _application(program, "o-stale", days_ago=45)
    fresh = await _application(program, "o-fresh", days_ago=2)
    settings = Settings(
        environment="test",
        database_url=database_url,
        celery_broker_url=redis_url,
        celery_result_backend=redis_url,
    )

    dispatched = await dispatch(EXPIRY, settings=settings, queue=celery_worker.queue)
    assert dispatched.runner == "celery"

    outcome = celery_app_for(settings).AsyncResult(dispatched.dispatch_id)
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + RESULT_DEADLINE_SECONDS
        while not await asyncio.to_thread(outcome.ready):
            if celery_worker.process.poll() is not None:
                pytest.fail(f"the worker exited early:\n{celery_worker.output()}")
            if loop.time() > deadline:
                pytest.fail(f"no result within the deadline:\n{celery_worker.output()}")
            await asyncio.sleep(POLL_SECONDS)
        state, result = outcome.state, outcome.result
    finally:
        outcome.forget()

    assert state == "SUCCESS", f"{state}: {result}\n{celery_worker.output()}"
    assert result["expired"] == 1
    assert (await Promoter.get(id=stale.id)).status == "expired"
    assert (await Promoter.get(id=fresh.id)).status == "applied"
    history = await PromoterStatusChange.filter(promoter_id=stale.id)
    assert [(h.to_status, h.actor_kind) for h in history] == [("expired", "system")]
    (run,) = await JobRun.filter(name=EXPIRY)
    assert (run.runner, run.status, run.result["expired"]) == ("celery", "succeeded", 1)


async def _finished(settings: Settings, dispatch_id: str, worker: CeleryWorker) -> tuple[str, Any]:
    """The task's final state and result, failing the test if the worker dies or stalls."""
    outcome = celery_app_for(settings).AsyncResult(dispatch_id)
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + RESULT_DEADLINE_SECONDS
        while not await asyncio.to_thread(outcome.ready):
            if worker.process.poll() is not None:
                pytest.fail(f"the worker exited early:\n{worker.output()}")
            if loop.time() > deadline:
                pytest.fail(f"no result within the deadline:\n{worker.output()}")
            await asyncio.sleep(POLL_SECONDS)
        return outcome.state, outcome.result
    finally:
        outcome.forget()


async def test_a_real_celery_worker_creates_the_scheduled_payout_batches_through_redis(
    db: str, database_url: str, redis_url: str, celery_worker: CeleryWorker
) -> None:
    program = await rules_program(schedule={"mode": "threshold", "threshold": "50.00"})
    due = await funded_promoter(program, "60.00")
    await funded_promoter(program, "20.00")
    settings = Settings(
        environment="test",
        database_url=database_url,
        celery_broker_url=redis_url,
        celery_result_backend=redis_url,
    )

    dispatched = await dispatch(
        "create_payout_batches", settings=settings, queue=celery_worker.queue
    )
    state, result = await _finished(settings, dispatched.dispatch_id, celery_worker)

    assert state == "SUCCESS", f"{state}: {result}\n{celery_worker.output()}"
    assert (result["batches"], result["withdrawals"]) == (1, 1)
    (payout,) = await Withdrawal.filter(origin="batch")
    assert (payout.promoter_id, payout.status) == (due.id, "approved")
    assert payout.amount == Decimal("60.00")
    assert await PayoutItem.filter(withdrawal_id=payout.id).count() == 1
    (run,) = await JobRun.filter(name="create_payout_batches")
    assert (run.runner, run.status) == ("celery", "succeeded")
    await assert_ledger_reconciles()
