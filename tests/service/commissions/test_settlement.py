from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from tortoise import connections
from tortoise.transactions import in_transaction

import server.services.commissions.settlement as settlement
from jobs.recorded import run_recorded
from server import clock
from server.config import Settings
from server.models import (
    Commission,
    CommissionChange,
    JobRun,
    LedgerEntry,
    Program,
    Promoter,
    PromoterBalance,
)
from server.services.commissions.settlement import approve_due_commissions, settle_due_commissions
from server.services.ledger.postings import post_movement
from tests.ledger_checks import assert_ledger_reconciles, make_commission
from tests.service.promoters.test_hierarchy import new_program, new_promoter

D = Decimal


async def _statuses(*commissions: Commission) -> list[str]:
    return [(await Commission.get(id=c.id)).status for c in commissions]


async def _available(promoter: Promoter) -> Decimal:
    row = await PromoterBalance.get_or_none(promoter_id=promoter.id)
    return row.available if row else D("0")


async def test_only_approved_unlocked_unheld_commissions_are_settled(db: str) -> None:
    program = await new_program()
    me = await new_promoter(program)
    due = await make_commission(program, me, amount="10.00")
    not_due = await make_commission(program, me, amount="20.00", unlocked_days_ago=-1)
    never_unlocked = await make_commission(program, me, amount="30.00", unlocked_days_ago=None)
    held = await make_commission(program, me, amount="40.00", hold_reason="anomaly:7")
    pending = await make_commission(program, me, amount="50.00", status="pending")

    result = await settle_due_commissions(now=clock.now())

    assert result["settled"] == 1
    assert await _statuses(due, not_due, never_unlocked, held, pending) == [
        "settled", "approved", "approved", "approved", "pending"
    ]  # fmt: skip
    settled = await Commission.get(id=due.id)
    assert settled.settled_amount == D("10") and settled.settled_at is not None
    [entry] = await LedgerEntry.all()
    assert (entry.reference, entry.kind, entry.account, entry.amount, entry.commission_id) == (
        f"commission:{due.id}:settle", "settle", "available", D("10"), due.id
    )  # fmt: skip
    [change] = await CommissionChange.filter(commission_id=due.id)
    assert (change.action, change.from_status, change.to_status, change.actor_kind) == (
        "settle", "approved", "settled", "system"
    )  # fmt: skip
    assert await _available(me) == D("10")
    await assert_ledger_reconciles()


async def test_the_commission_settles_once_its_freeze_window_is_over(db: str) -> None:
    program = await new_program()
    me = await new_promoter(program)
    later = await make_commission(program, me, amount="5.00", unlocked_days_ago=-3)
    assert (await settle_due_commissions(now=clock.now()))["settled"] == 0
    clock.advance(timedelta(days=4))
    assert (await settle_due_commissions(now=clock.now()))["settled"] == 1
    assert await _statuses(later) == ["settled"]


async def test_batches_keep_a_running_balance_per_promoter_on_top_of_what_was_there(
    db: str,
) -> None:
    program = await new_program()
    alice, bob = await new_promoter(program), await new_promoter(program)
    await make_commission(program, alice, amount="1.10")
    await settle_due_commissions(now=clock.now())
    amounts = {alice: ["2.25", "3.00", "0.05"], bob: ["7.77", "0.01"]}
    for promoter, values in amounts.items():
        for value in values:
            await make_commission(program, promoter, amount=value)

    result = await settle_due_commissions(now=clock.now(), batch_size=2)

    assert result == {"settled": 5, "batches": 3, "now": result["now"]}
    alice_entries = await LedgerEntry.filter(promoter_id=alice.id).order_by("id")
    assert [e.balance_after for e in alice_entries] == [D("1.10"), D("3.35"), D("6.35"), D("6.40")]
    bob_entries = await LedgerEntry.filter(promoter_id=bob.id).order_by("id")
    assert [e.balance_after for e in bob_entries] == [D("7.77"), D("7.78")]
    assert (await _available(alice), await _available(bob)) == (D("6.40"), D("7.78"))
    await assert_ledger_reconciles()


async def test_a_crash_between_batches_loses_nothing_and_the_next_run_finishes_the_work(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    program = await new_program()
    me = await new_promoter(program)
    commissions = [await make_commission(program, me, amount=f"{n}.00") for n in range(1, 6)]
    real_credit = settlement._credit_balances
    calls = 0

    async def crash_in_the_second_batch(*args: object, **kwargs: object) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise ConnectionError("worker killed")
        await real_credit(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(settlement, "_credit_balances", crash_in_the_second_batch)
    with pytest.raises(ConnectionError):
        await settle_due_commissions(now=clock.now(), batch_size=2)

    assert await _statuses(*commissions) == ["settled"] * 2 + ["approved"] * 3
    assert await LedgerEntry.all().count() == 2
    await assert_ledger_reconciles()

    monkeypatch.setattr(settlement, "_credit_balances", real_credit)
    result = await settle_due_commissions(now=clock.now(), batch_size=2)
    assert (result["settled"], result["batches"]) == (3, 2)
    assert await _statuses(*commissions) == ["settled"] * 5
    assert await _available(me) == D("15")
    assert await LedgerEntry.all().count() == 5
    await assert_ledger_reconciles()


async def test_running_settlement_again_settles_nothing_twice(db: str) -> None:
    program = await new_program()
    me = await new_promoter(program)
    await make_commission(program, me, amount="3.00")
    await settle_due_commissions(now=clock.now())
    again = await settle_due_commissions(now=clock.now())
    assert again["settled"] == 0
    assert await LedgerEntry.all().count() == 1
    assert await _available(me) == D("3")


async def test_a_yen_program_settles_whole_amounts(db: str) -> None:
    program = await Program.create(name="JP", currency="JPY")
    me = await new_promoter(program)
    await make_commission(program, me, amount="1500")
    await make_commission(program, me, amount="250")
    await settle_due_commissions(now=clock.now())
    assert await _available(me) == D("1750")
    await assert_ledger_reconciles()


@pytest.mark.mysql
async def test_two_settlement_runs_at_once_never_settle_a_commission_twice(db: str) -> None:
    program = await new_program()
    promoters = [await new_promoter(program) for _ in range(3)]
    for n in range(60):
        await make_commission(program, promoters[n % 3], amount=f"{n % 7 + 1}.25")

    results = await asyncio.gather(
        settle_due_commissions(now=clock.now(), batch_size=7),
        settle_due_commissions(now=clock.now(), batch_size=7),
    )

    assert sum(r["settled"] for r in results) == 60
    assert await LedgerEntry.all().count() == 60
    assert await Commission.filter(status="settled").count() == 60
    await assert_ledger_reconciles()


async def _live_program() -> list[Promoter]:
    """A live program's shape: many commissions decided long ago beside the few due."""
    program = await _auto_program({"enabled": True})
    promoters = [await new_promoter(program) for _ in range(3)]
    for n in range(60):
        await make_commission(program, promoters[n % 3], status="rejected")
    return promoters


async def _make_due(promoters: list[Promoter], status: str) -> None:
    program = await Program.get(id=promoters[0].program_id)  # type: ignore[attr-defined]
    for n in range(20):
        await make_commission(program, promoters[n % 3], amount=f"{n % 7 + 1}.25", status=status)
    # Statistics as on a server that has run a while: with few rows due, MariaDB would read
    # a batch's id list through the status index.
    await connections.get("default").execute_query("ANALYZE TABLE commissions")


# Each round is one race whose outcome depends on which run locks first: three rounds
# caught the old lock order in every one of 12 runs.
RACE_ROUNDS = 3


@pytest.mark.mysql
@pytest.mark.parametrize(
    ("job", "due", "done"),
    [
        (settle_due_commissions, "approved", "settled"),
        (approve_due_commissions, "pending", "approved"),
    ],
)
async def test_job_runs_of_any_batch_sizes_at_once_never_deadlock(
    db: str, job: Callable[..., Awaitable[dict[str, Any]]], due: str, done: str
) -> None:
    promoters = await _live_program()
    for round_ in range(1, RACE_ROUNDS + 1):
        await _make_due(promoters, due)

        results = await asyncio.gather(
            job(now=clock.now(), batch_size=1), job(now=clock.now(), batch_size=10)
        )

        assert sum(r[done] for r in results) == 20
        assert await Commission.filter(status=done).count() == 20 * round_
        assert await CommissionChange.filter(to_status=done).count() == 20 * round_
        settled = await Commission.filter(status="settled").count()
        assert await LedgerEntry.filter(kind="settle").count() == settled
    await assert_ledger_reconciles()


@pytest.mark.mysql
async def test_postings_running_alongside_settlement_keep_the_ledger_reconciled(db: str) -> None:
    program = await new_program()
    promoters = [await new_promoter(program) for _ in range(2)]
    for promoter in promoters:
        await _post_settle(promoter, "100.00", f"seed:{promoter.id}")
    for n in range(40):
        await make_commission(program, promoters[n % 2], amount="1.00")

    async def holds(promoter: Promoter) -> None:
        for n in range(10):
            await _post_hold(promoter, "3.00", f"w:{promoter.id}:{n}")

    await asyncio.gather(
        settle_due_commissions(now=clock.now(), batch_size=3),
        *(holds(p) for p in promoters),
    )

    for promoter in promoters:
        assert await _available(promoter) == D("100") + D("20") - D("30")
    await assert_ledger_reconciles()


async def _post_settle(promoter: Promoter, amount: str, reference: str) -> None:
    async with in_transaction() as conn:
        await post_movement(
            conn=conn,
            promoter_id=promoter.id,
            program_id=promoter.program_id,  # type: ignore[attr-defined]
            currency="CNY",
            kind="settle",
            postings=[("available", D(amount))],
            reference=reference,
        )


async def _post_hold(promoter: Promoter, amount: str, reference: str) -> None:
    async with in_transaction() as conn:
        await post_movement(
            conn=conn,
            promoter_id=promoter.id,
            program_id=promoter.program_id,  # type: ignore[attr-defined]
            currency="CNY",
            kind="hold",
            postings=[("available", -D(amount)), ("on_hold", D(amount))],
            reference=reference,
        )


async def _auto_program(rules: dict[str, object]) -> Program:
    program = await new_program()
    program.auto_approve_rules = rules
    await program.save()
    return program


async def test_auto_approval_follows_the_programs_rules_and_never_touches_held_commissions(
    db: str,
) -> None:
    program = await _auto_program(
        {"enabled": True, "max_line_amount": "100.00", "require_no_open_anomaly": True}
    )
    me = await new_promoter(program)
    small = await make_commission(program, me, amount="99.99", status="pending")
    limit = await make_commission(program, me, amount="100.00", status="pending")
    big = await make_commission(program, me, amount="100.01", status="pending")
    frozen = await make_commission(program, me, status="pending", unlocked_days_ago=-2)
    held = await make_commission(program, me, amount="1.00", status="pending", hold_reason="a:1")
    manual = await _auto_program({"enabled": False})
    theirs = await make_commission(manual, await new_promoter(manual), status="pending")

    result = await approve_due_commissions(now=clock.now())

    assert result["approved"] == 2 and result["by_program"] == {str(program.id): 2}
    assert await _statuses(small, limit, big, frozen, held, theirs) == [
        "approved", "approved", "pending", "pending", "pending", "pending"
    ]  # fmt: skip
    [change] = await CommissionChange.filter(commission_id=small.id)
    assert (change.from_status, change.to_status) == ("pending", "approved")
    assert change.reason == "auto-approved by the program's rules"
    assert (await Commission.get(id=small.id)).approved_at is not None


async def test_auto_approval_without_an_amount_limit_approves_any_amount(db: str) -> None:
    program = await _auto_program({"enabled": True, "max_line_amount": None})
    me = await new_promoter(program)
    huge = await make_commission(program, me, amount="123456.78", status="pending")
    await approve_due_commissions(now=clock.now(), batch_size=1)
    assert await _statuses(huge) == ["approved"]


async def test_auto_approval_leaves_a_suspended_promoters_commissions_to_staff_review(
    db: str,
) -> None:
    program = await _auto_program({"enabled": True})
    good = await make_commission(program, await new_promoter(program), status="pending")
    suspended = await new_promoter(program, status="suspended")
    waiting = await make_commission(program, suspended, status="pending")

    result = await approve_due_commissions(now=clock.now())

    assert result["approved"] == 1
    assert await _statuses(good, waiting) == ["approved", "pending"]


async def test_the_jobs_approve_settle_and_reconcile_and_record_their_results(
    db: str, settings: Settings
) -> None:
    program = await _auto_program({"enabled": True})
    me = await new_promoter(program)
    await make_commission(program, me, amount="12.34", status="pending")

    approved = await run_recorded("approve_due_commissions", runner="inprocess", settings=settings)
    settled = await run_recorded("settle_due_commissions", runner="inprocess", settings=settings)
    await PromoterBalance.filter(promoter_id=me.id).update(available=D("1.00"))
    checked = await run_recorded("reconcile_ledger", runner="inprocess", settings=settings)

    assert (approved["approved"], settled["settled"]) == (1, 1)
    run = await JobRun.filter(name="reconcile_ledger").get()
    assert run.status == "succeeded"
    assert run.result == checked
    assert (checked["balanced"], checked["drift_count"]) == (False, 1)
    assert checked["drifts"][0]["cached"] == "1.00"
