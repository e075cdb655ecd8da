from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from server.config import Settings
from server.models import Commission, PayoutBatch, PayoutItem, Program, Promoter, Withdrawal
from server.services.payouts.batches import create_payout_batches, pay_batch
from server.services.payouts.gateway import use_provider
from server.services.payouts.queries import batch_detail, payout_lineage
from tests.ledger_checks import assert_ledger_reconciles
from tests.payment_fakes import FakeProvider
from tests.withdrawal_builders import FINANCE, balances, funded_promoter, rules_program, withdraw

D = Decimal
# 12:00 on 5 November in Asia/Shanghai, the programs' default time zone.
NOV_5 = datetime(2026, 11, 5, 4, 0, tzinfo=UTC)


async def test_a_monthly_schedule_pays_everyone_above_the_minimum_once_a_month(db: str) -> None:
    program = await rules_program(minimum="10.00", schedule={"mode": "monthly", "day": 5})
    rich = await funded_promoter(program, "12.00", "30.00")
    poor = await funded_promoter(program, "9.00")

    early = await create_payout_batches(now=NOV_5 - timedelta(days=1))
    run = await create_payout_batches(now=NOV_5)
    again = await create_payout_batches(now=NOV_5 + timedelta(days=3))

    assert early["batches"] == 0
    assert (run["batches"], run["withdrawals"]) == (1, 1)
    assert again["batches"] == 0
    (batch,) = await PayoutBatch.all()
    assert (batch.trigger, batch.period_key, batch.total_amount) == (
        "monthly", "monthly:2026-11", D("42.00"),
    )  # fmt: skip
    (payout,) = await Withdrawal.filter(batch_id=batch.id)
    assert (payout.promoter_id, payout.status, payout.origin) == (rich.id, "approved", "batch")
    assert await balances(rich) == (D("0"), D("42"), D("0"))
    assert await balances(poor) == (D("9"), D("0"), D("0"))
    items = await PayoutItem.filter(withdrawal_id=payout.id).order_by("id")
    assert [i.amount for i in items] == [D("12.00"), D("30.00")]
    await assert_ledger_reconciles()


async def test_a_threshold_schedule_pays_only_balances_at_or_above_the_threshold(db: str) -> None:
    program = await rules_program(schedule={"mode": "threshold", "threshold": "50.00"})
    at = await funded_promoter(program, "50.00")
    below = await funded_promoter(program, "49.99")
    suspended = await funded_promoter(program, "80.00")
    await Promoter.filter(id=suspended.id).update(status="suspended")

    run = await create_payout_batches(now=NOV_5)

    assert run["withdrawals"] == 1
    assert await Withdrawal.filter(promoter_id=at.id).count() == 1
    assert await Withdrawal.filter(promoter_id__in=[below.id, suspended.id]).count() == 0


async def test_a_manual_schedule_creates_no_batch_by_itself(db: str) -> None:
    program = await rules_program(schedule={"mode": "manual"})
    await funded_promoter(program, "500.00")

    assert (await create_payout_batches(now=NOV_5))["batches"] == 0
    assert await Withdrawal.all().count() == 0


async def test_a_promoter_already_paid_in_a_batch_is_not_paid_again_when_a_run_resumes(
    db: str,
) -> None:
    program = await rules_program(schedule={"mode": "monthly", "day": 1})
    first = await funded_promoter(program, "20.00")
    await create_payout_batches(now=NOV_5)
    (batch,) = await PayoutBatch.all()
    # A run that died before finishing: the batch is not complete, and more money arrived.
    await PayoutBatch.filter(id=batch.id).update(completed_at=None)
    second = await funded_promoter(program, "30.00")

    await create_payout_batches(now=NOV_5)

    payouts = await Withdrawal.filter(batch_id=batch.id).order_by("promoter_id")
    assert [(p.promoter_id, p.amount) for p in payouts] == [
        (first.id, D("20.00")), (second.id, D("30.00"))
    ]  # fmt: skip
    assert (await PayoutBatch.get(id=batch.id)).withdrawal_count == 2


async def test_paying_a_batch_marks_the_covered_commissions_paid_with_their_payout(
    db: str, settings: Settings
) -> None:
    program = await rules_program(schedule={"mode": "monthly", "day": 5})
    me = await funded_promoter(program, "15.00", "25.00")
    await create_payout_batches(now=NOV_5)
    (batch,) = await PayoutBatch.all()
    provider = FakeProvider()

    with use_provider(provider):
        outcome = await pay_batch(batch_id=batch.id, actor=FINANCE, settings=settings)

    assert outcome["by_status"] == {"paid": 1}
    (payout,) = await Withdrawal.filter(batch_id=batch.id)
    commissions = await Commission.filter(promoter_id=me.id)
    assert {(c.status, c.payout_id) for c in commissions} == {("paid", payout.id)}
    lineage = (await payout_lineage(withdrawal_ids=[payout.id]))[payout.id]
    assert sorted(i["order"]["id"] for i in lineage) == sorted(c.order_id for c in commissions)  # type: ignore[attr-defined]
    detail = await batch_detail(batch_id=batch.id)
    assert (detail["by_status"], detail["paid_total"]) == ({"paid": 1}, "40.00")
    await assert_ledger_reconciles()


async def test_a_batch_payout_and_a_request_never_cover_the_same_commission_twice(
    db: str,
) -> None:
    program = await rules_program(schedule={"mode": "monthly", "day": 5})
    me = await funded_promoter(program, "10.00", "10.00")
    asked = await withdraw(me, "15.00")

    await create_payout_batches(now=NOV_5)

    (payout,) = await Withdrawal.filter(origin="batch")
    assert payout.amount == D("5.00")
    covered: dict[int, Decimal] = {}
    for item in await PayoutItem.filter(withdrawal_id__in=[asked["id"], payout.id]):
        covered[item.commission_id] = covered.get(item.commission_id, D(0)) + item.amount  # type: ignore[index]
    assert sorted(covered.values()) == [D("10.00"), D("10.00")]


async def test_a_batch_waits_for_a_promoter_to_accept_the_new_agreement(db: str) -> None:
    program = await rules_program(schedule={"mode": "threshold", "threshold": "50.00"})
    await Program.filter(id=program.id).update(requirements={"agreement_version": "v2"})
    current = await funded_promoter(program, "60.00")
    outdated = await funded_promoter(program, "60.00")
    await Promoter.filter(id=current.id).update(agreement_version="v2")
    await Promoter.filter(id=outdated.id).update(agreement_version="v1")

    run = await create_payout_batches(now=NOV_5)

    assert run["withdrawals"] == 1
    assert await Withdrawal.filter(promoter_id=current.id).count() == 1
    assert await Withdrawal.filter(promoter_id=outdated.id).count() == 0


async def test_a_batch_leaves_out_a_promoter_without_the_required_tax_profile(db: str) -> None:
    program = await rules_program(
        schedule={"mode": "threshold", "threshold": "50.00"}, require_tax_profile=True
    )
    filed = await funded_promoter(program, "60.00")
    await Promoter.filter(id=filed.id).update(legal_name="王小明", tax_id="sealed-value")
    unfiled = await funded_promoter(program, "60.00")

    run = await create_payout_batches(now=NOV_5)

    assert run["withdrawals"] == 1
    assert await Withdrawal.filter(promoter_id=filed.id).count() == 1
    assert await Withdrawal.filter(promoter_id=unfiled.id).count() == 0
    assert await balances(unfiled) == (D("60"), D("0"), D("0"))
