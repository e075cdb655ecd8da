"""The outbox: each event of the list is written by the real use case, in the change's own
transaction (a rolled-back change leaves no event), to every subscribed endpoint only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tortoise.transactions import in_transaction

from server.config import Settings
from server.domain.fraud.findings import AnomalyKind, Finding, SubjectKind
from server.domain.webhooks.events import EVENT_TYPES
from server.models import PayoutBatch, Program, WebhookDelivery, WebhookMessage, Withdrawal
from server.services.fraud.anomalies import record_finding
from server.services.fraud.decisions import decide_anomalies
from server.services.payouts import disputes
from server.services.payouts.batches import create_payout_batches, pay_batch
from server.services.payouts.gateway import use_provider
from server.services.payouts.withdrawal_payment import mark_withdrawal_paid, pay_withdrawal
from server.services.payouts.withdrawals import approve_withdrawal
from server.services.promoters.onboarding import apply_to_program
from server.services.promoters.status_changes import change_promoter_status
from server.services.webhooks.endpoints import create_endpoint
from server.services.webhooks.outbox import complete_paid_batches
from tests.order_builders import (
    ADMIN,
    T0,
    bind,
    customer,
    line,
    order_of,
    paid,
    promoter,
    refunded,
    send_ok,
    settle_order,
    shop,
)
from tests.payment_fakes import FakeProvider
from tests.withdrawal_builders import FINANCE, funded_promoter, rules_program, withdraw

URL = "http://127.0.0.1:9/hooks"
NOV_5 = datetime(2026, 11, 5, 4, 0, tzinfo=UTC)


async def _subscribe(program: Program, settings: Settings, *types: str) -> int:
    issued = await create_endpoint(
        program_id=program.id,
        url=URL,
        event_types=list(types or EVENT_TYPES),
        description=None,
        actor=ADMIN,
        settings=settings,
    )
    return issued.endpoint.id


def _spike(promoter_id: int, *order_ids: int) -> Finding:
    return Finding(
        kind=AnomalyKind.VELOCITY_SPIKE,
        subject_kind=SubjectKind.PROMOTER,
        subject_id=str(promoter_id),
        score=70,
        promoter_id=promoter_id,
        detail="",
        evidence={"window_orders": 60},
        order_ids=order_ids,
    )


async def _events(program: Program) -> list[tuple[str, dict[str, Any]]]:
    rows = await WebhookMessage.filter(program_id=program.id).order_by("id")
    return [(row.event_type, row.payload["data"]) for row in rows]


async def test_promoter_life_cycle_changes_are_events(db: str, hook_settings: Settings) -> None:
    program = await shop()
    await _subscribe(program, hook_settings)
    user = await customer()
    applied = await apply_to_program(
        user_id=user.id,
        program_id=program.id,
        real_name=None,
        phone=None,
        agreement_version=None,
        invite_code=None,
    )
    promoter_id = applied["promoter"]["id"]
    if applied["promoter"]["status"] == "applied":
        await change_promoter_status(
            promoter_id=promoter_id, action="approve", reason=None, actor=ADMIN
        )
    await change_promoter_status(
        promoter_id=promoter_id, action="suspend", reason="fake orders", actor=ADMIN
    )

    events = await _events(program)

    assert [kind for kind, _ in events] == [
        "promoter.applied",
        "promoter.approved",
        "promoter.suspended",
    ]
    assert {data["promoter_id"] for _, data in events} == {promoter_id}
    assert events[-1][1]["status"] == "suspended"


async def test_an_order_creates_commissions_and_a_refund_claws_back_negatively(
    db: str, hook_settings: Settings
) -> None:
    program = await shop()
    await _subscribe(program, hook_settings, "commission.created")
    me = await promoter(program)
    buyer = await customer()
    await bind(program, me, user=buyer)

    await send_ok(program, paid("W-1", line(amount="100.00"), buyer=buyer))
    await send_ok(program, refunded("W-1", lines={"L1": "40.00"}))

    events = await _events(program)
    order = await order_of(program, "W-1")
    assert [(kind, data["amount"], data["reason"]) for kind, data in events] == [
        ("commission.created", "10.00", "order_paid"),
        ("commission.created", "-4.00", "refund"),
    ]
    assert events[1][1]["commission_amount"] == "6.00"
    assert {data["order_id"] for _, data in events} == {order.id}
    assert {data["currency"] for _, data in events} == {"CNY"}


async def test_settling_and_paying_out_are_events(
    db: str, hook_settings: Settings, settings: Settings
) -> None:
    program = await rules_program(minimum="10.00")
    await _subscribe(program, hook_settings)
    me = await funded_promoter(program, "40.00", "60.00")
    withdrawal = await withdraw(me, "50.00")
    await approve_withdrawal(withdrawal_id=withdrawal["id"], actor=FINANCE)
    provider = FakeProvider()
    provider.will("fail")
    with use_provider(provider):
        await pay_withdrawal(withdrawal_id=withdrawal["id"], actor=FINANCE, settings=settings)
    await mark_withdrawal_paid(withdrawal_id=withdrawal["id"], reference="BANK-1", actor=FINANCE)

    events = await _events(program)

    assert [kind for kind, _ in events] == [
        "commission.settled",
        "commission.settled",
        "withdrawal.approved",
        "withdrawal.failed",
        "withdrawal.paid",
    ]
    assert sorted(data["amount"] for _, data in events[:2]) == ["40.00", "60.00"]
    paid_data = events[-1][1]
    assert (paid_data["withdrawal_id"], paid_data["amount"]) == (withdrawal["id"], "50.00")
    assert paid_data["paid_at"].endswith("Z")
    assert events[3][1]["failure_code"]


async def test_a_payout_batch_whose_payouts_are_all_paid_is_an_event(
    db: str, hook_settings: Settings, settings: Settings
) -> None:
    program = await rules_program(schedule={"mode": "monthly", "day": 5})
    me = await funded_promoter(program, "15.00", "25.00")
    await _subscribe(program, hook_settings, "payout_batch.paid", "withdrawal.paid")
    await create_payout_batches(now=NOV_5)
    (batch,) = await PayoutBatch.filter(program_id=program.id)
    batch_id = batch.id
    with use_provider(FakeProvider()):
        await pay_batch(batch_id=batch_id, actor=FINANCE, settings=settings)

    events = await _events(program)

    assert [kind for kind, _ in events] == ["withdrawal.paid", "payout_batch.paid"]
    assert events[0][1]["promoter_id"] == me.id
    assert (events[1][1]["payout_batch_id"], events[1][1]["total_amount"]) == (batch_id, "40.00")
    assert events[1][1]["paid_at"].endswith("Z")


async def _batch_of_two(settings: Settings) -> tuple[Program, PayoutBatch]:
    """A monthly batch paying two promoters (15.00 and 25.00), its event subscribed."""
    program = await rules_program(schedule={"mode": "monthly", "day": 5})
    await funded_promoter(program, "15.00")
    await funded_promoter(program, "25.00")
    await _subscribe(program, settings, "payout_batch.paid")
    await create_payout_batches(now=NOV_5)
    (batch,) = await PayoutBatch.filter(program_id=program.id)
    return program, batch


async def test_a_batch_whose_last_payouts_ended_together_is_still_an_event(
    db: str, hook_settings: Settings
) -> None:
    # Two finance users mark the batch's last two payouts paid at once: each transaction still
    # sees the other payout open, so neither records payout_batch.paid. The delivery job's
    # sweep records it, once.
    program, batch = await _batch_of_two(hook_settings)
    assert await Withdrawal.filter(batch_id=batch.id).count() == 2
    await Withdrawal.filter(batch_id=batch.id).update(status="paid")
    later = NOV_5 + timedelta(hours=1)

    assert await complete_paid_batches(now=later) == 1
    assert await complete_paid_batches(now=later) == 0

    events = await _events(program)
    assert [kind for kind, _ in events] == ["payout_batch.paid"]
    assert (events[0][1]["payout_batch_id"], events[0][1]["total_amount"]) == (batch.id, "40.00")


async def test_the_sweep_leaves_batches_with_an_open_or_no_paid_payout(
    db: str, hook_settings: Settings
) -> None:
    program, batch = await _batch_of_two(hook_settings)
    first, second = await Withdrawal.filter(batch_id=batch.id).order_by("id")
    await Withdrawal.filter(id=first.id).update(status="paid")
    later = NOV_5 + timedelta(hours=1)

    assert await complete_paid_batches(now=later) == 0
    await Withdrawal.filter(id=first.id).update(status="rejected")
    await Withdrawal.filter(id=second.id).update(status="released")
    assert await complete_paid_batches(now=later) == 0
    assert await _events(program) == []
    assert (await PayoutBatch.get(id=batch.id)).paid_at is None


async def test_anomalies_and_disputes_opened_are_events(db: str, hook_settings: Settings) -> None:
    program = await shop()
    await _subscribe(program, hook_settings, "anomaly.opened", "dispute.opened")
    me = await funded_promoter(program, "8.00")
    finding = _spike(me.id)
    async with in_transaction() as conn:
        anomaly = await record_finding(
            conn=conn, program_id=program.id, finding=finding, source="scan"
        )
    opened = await disputes.open_dispute(
        user_id=me.user_id,  # type: ignore[attr-defined]
        program_id=program.id,
        commission_id=None,
        external_order_id="X-1",
        text="my order is missing",
    )

    events = await _events(program)

    assert anomaly is not None
    assert events == [
        ("anomaly.opened", {**events[0][1], "anomaly_id": anomaly.id, "kind": "velocity_spike"}),
        (
            "dispute.opened",
            {**events[1][1], "dispute_id": opened["id"], "external_order_id": "X-1"},
        ),
    ]


async def test_a_rolled_back_change_leaves_no_event(db: str, hook_settings: Settings) -> None:
    program = await shop()
    await _subscribe(program, hook_settings)
    me = await promoter(program)
    finding = _spike(me.id)

    with pytest.raises(RuntimeError):
        async with in_transaction() as conn:
            await record_finding(conn=conn, program_id=program.id, finding=finding, source="scan")
            assert await WebhookMessage.filter(program_id=program.id).using_db(conn).exists()
            raise RuntimeError("the change fails after its event was written")

    assert await WebhookMessage.filter(program_id=program.id).count() == 0
    assert await WebhookDelivery.filter(program_id=program.id).count() == 0


async def test_only_subscribed_enabled_endpoints_of_the_program_get_a_delivery(
    db: str, hook_settings: Settings
) -> None:
    program, other = await shop(), await shop()
    wanted = await _subscribe(program, hook_settings, "promoter.suspended")
    await _subscribe(program, hook_settings, "dispute.opened")
    await _subscribe(other, hook_settings, "promoter.suspended")
    me = await promoter(program)
    silent = await promoter(await shop())

    await change_promoter_status(promoter_id=me.id, action="suspend", reason="x", actor=ADMIN)
    await change_promoter_status(promoter_id=silent.id, action="suspend", reason="x", actor=ADMIN)

    deliveries = await WebhookDelivery.all()
    assert [(d.endpoint_id, d.event_type) for d in deliveries] == [(wanted, "promoter.suspended")]  # type: ignore[attr-defined]
    assert await WebhookMessage.all().count() == 1
    assert timedelta(0) <= deliveries[0].next_attempt_at - deliveries[0].created_at


async def test_a_confirmed_fraud_claws_a_settled_commission_back_as_a_negative_event(
    db: str, hook_settings: Settings
) -> None:
    program = await shop()
    me = await promoter(program)
    buyer = await customer()
    await bind(program, me, user=buyer)
    await send_ok(program, paid("F-1", line(amount="100.00"), buyer=buyer))
    await settle_order(program, "F-1", completed_at=T0 + timedelta(days=1))
    await _subscribe(program, hook_settings, "commission.created")
    order = await order_of(program, "F-1")
    finding = _spike(me.id, order.id)
    async with in_transaction() as conn:
        anomaly = await record_finding(
            conn=conn, program_id=program.id, finding=finding, source="scan"
        )
    assert anomaly is not None

    await decide_anomalies(ids=[anomaly.id], action="confirm", note="fake", actor=ADMIN)

    events = await _events(program)
    assert [(kind, d["amount"], d["commission_amount"], d["reason"]) for kind, d in events] == [
        ("commission.created", "-10.00", "0.00", "reverse")
    ]
