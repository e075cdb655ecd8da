"""Fraud review stops money: while a promoter is on fraud hold (an open anomaly naming them, or
a manual hold), none of their commissions is auto-approved or settled and payout batches leave
them out; a program may choose to hold only the anomaly's own commissions."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from tortoise.transactions import in_transaction

from server.auth import Principal
from server.domain.errors import Conflict, ValidationFailed
from server.domain.fraud.findings import AnomalyKind, Finding, SubjectKind
from server.models import Anomaly, AuditLog, Program, Promoter, PromoterHold, Withdrawal
from server.services.commissions.settlement import approve_due_commissions, settle_due_commissions
from server.services.fraud.anomalies import record_finding
from server.services.fraud.decisions import decide_anomalies
from server.services.fraud.holds import hold_status, lift_hold, place_hold
from server.services.payouts.batches import create_manual_batch
from tests.ledger_checks import assert_ledger_reconciles
from tests.order_builders import (
    T0,
    available,
    bind,
    commissions_of,
    completed,
    customer,
    order_of,
    paid,
    promoter,
    send_ok,
    settle_order,
    shop,
)
from tests.withdrawal_builders import FINANCE

D = Decimal
STAFF = Principal(kind="staff", id=5, roles=frozenset({"staff"}))


async def referred_order(program: Program, me: Promoter, external_id: str) -> None:
    """A new customer bound to `me` buys 100.00 (10.00 to me, 5.00 to my upline)."""
    buyer = await customer()
    await bind(program, me, user=buyer)
    await send_ok(program, paid(external_id, buyer=buyer))


async def open_anomaly_on(program: Program, me: Promoter, external_id: str) -> Anomaly:
    """A scan finds a velocity spike on `me`, linked to one order (held with it)."""
    order = await order_of(program, external_id)
    finding = Finding(
        kind=AnomalyKind.VELOCITY_SPIKE,
        subject_kind=SubjectKind.PROMOTER,
        subject_id=str(me.id),
        score=70,
        promoter_id=me.id,
        evidence={"window_orders": 60},
        order_ids=(order.id,),
    )
    async with in_transaction() as conn:
        anomaly = await record_finding(
            conn=conn, program_id=program.id, finding=finding, source="scan"
        )
    assert anomaly is not None
    return anomaly


async def status_of(program: Program, external_id: str, level: int = 1) -> str:
    return (await commissions_of(program, external_id))[("L1", level)].status


async def run_jobs_after_freeze(program: Program) -> None:
    moment = T0 + timedelta(days=2 + program.freeze_days, seconds=1)
    await approve_due_commissions(now=moment)
    await settle_due_commissions(now=moment)


async def held_setup(**settings: str) -> tuple[Program, Promoter, Promoter, Anomaly]:
    """`me` has 10.00 settled (order OLD), then an anomaly opens on order FLAGGED, then an
    unrelated order CLEAN is paid and completed: its freeze is over when the jobs run."""
    program = await shop(auto_approve_rules={"enabled": True}, **settings)
    upline = await promoter(program)
    me = await promoter(program, upline)
    await referred_order(program, me, "OLD")
    await settle_order(program, "OLD", completed_at=T0 - timedelta(days=30))
    assert await available(me.id) == D("10.00")
    await referred_order(program, me, "FLAGGED")
    anomaly = await open_anomaly_on(program, me, "FLAGGED")
    await referred_order(program, me, "CLEAN")
    await send_ok(program, completed("CLEAN"))
    await send_ok(program, completed("FLAGGED"))
    return program, upline, me, anomaly


async def test_an_open_anomaly_holds_the_promoters_unrelated_commissions_and_payouts(
    db: str,
) -> None:
    program, upline, me, anomaly = await held_setup()

    await run_jobs_after_freeze(program)
    batch = await create_manual_batch(program_id=program.id, actor=FINANCE)

    # The unrelated order's commission waits: neither auto-approved nor settled nor paid out.
    assert await status_of(program, "CLEAN") == "pending"
    assert await status_of(program, "FLAGGED") == "pending"
    assert await available(me.id) == D("10.00")
    assert await Withdrawal.filter(promoter_id=me.id).count() == 0
    assert batch["held_promoter_ids"] == [me.id]
    # The hold is the promoter's, not the order's: the upline's level-2 commission moves.
    assert await status_of(program, "CLEAN", level=2) == "settled"
    assert [w["promoter_id"] for w in batch["withdrawals"]] == [upline.id]
    assert (await hold_status(promoter_id=me.id))["on_hold"] is True

    await decide_anomalies(ids=[anomaly.id], action="dismiss", note="a busy week", actor=STAFF)
    await run_jobs_after_freeze(program)
    later = await create_manual_batch(program_id=program.id, actor=FINANCE)

    assert await status_of(program, "CLEAN") == "settled"
    assert await status_of(program, "FLAGGED") == "settled"
    assert later["held_promoter_ids"] == []
    paid_out = {w["promoter_id"]: w["amount"] for w in later["withdrawals"]}
    assert paid_out[me.id] == "30.00"
    await assert_ledger_reconciles()


async def test_an_approved_commission_is_not_settled_while_its_promoter_is_held(db: str) -> None:
    program = await shop(auto_approve_rules={"enabled": True})
    me = await promoter(program)
    await referred_order(program, me, "APPROVED")
    await send_ok(program, completed("APPROVED"))
    moment = T0 + timedelta(days=2 + program.freeze_days, seconds=1)
    await approve_due_commissions(now=moment)
    assert await status_of(program, "APPROVED") == "approved"
    await referred_order(program, me, "FLAGGED")
    await open_anomaly_on(program, me, "FLAGGED")

    await settle_due_commissions(now=moment)

    assert await status_of(program, "APPROVED") == "approved"
    assert await available(me.id) == D("0")


async def test_a_program_holding_only_anomaly_commissions_lets_the_rest_move(db: str) -> None:
    program, _, me, anomaly = await held_setup(fraud_hold_scope="anomaly_commissions")

    await run_jobs_after_freeze(program)
    batch = await create_manual_batch(program_id=program.id, actor=FINANCE)

    assert await status_of(program, "CLEAN") == "settled"
    flagged = (await commissions_of(program, "FLAGGED"))[("L1", 1)]
    assert (flagged.status, flagged.hold_reason) == ("pending", f"anomaly:{anomaly.id}")
    assert batch["held_promoter_ids"] == []
    mine = [w for w in batch["withdrawals"] if w["promoter_id"] == me.id]
    assert [w["amount"] for w in mine] == ["20.00"]
    assert (await hold_status(promoter_id=me.id))["on_hold"] is False


async def test_a_manual_hold_stops_the_promoters_money_until_staff_lift_it(db: str) -> None:
    # Even where anomalies hold only their own commissions, a manual hold is the promoter's.
    program = await shop(
        auto_approve_rules={"enabled": True}, fraud_hold_scope="anomaly_commissions"
    )
    me = await promoter(program)
    await referred_order(program, me, "OLD")
    await settle_order(program, "OLD", completed_at=T0 - timedelta(days=30))
    await referred_order(program, me, "NEW")
    await send_ok(program, completed("NEW"))

    held = await place_hold(
        promoter_id=me.id, reason="  chargebacks reported by the store ", actor=STAFF
    )
    await run_jobs_after_freeze(program)
    batch = await create_manual_batch(program_id=program.id, actor=FINANCE)

    assert held["on_hold"] is True
    assert held["manual_hold_in_force"] is True
    assert held["manual_holds"][0]["reason"] == "chargebacks reported by the store"
    assert await status_of(program, "NEW") == "pending"
    assert batch["held_promoter_ids"] == [me.id]
    assert batch["withdrawals"] == []

    lifted = await lift_hold(promoter_id=me.id, reason="store withdrew the report", actor=STAFF)
    await run_jobs_after_freeze(program)

    assert lifted["on_hold"] is False
    [record] = lifted["manual_holds"]
    assert (record["in_force"], record["lifted_by"], record["lift_reason"]) == (
        False, STAFF.id, "store withdrew the report"
    )  # fmt: skip
    assert await status_of(program, "NEW") == "settled"
    audit = await AuditLog.filter(target_kind="promoter", target_id=me.id).order_by("id")
    assert [(a.action, a.actor_id, a.details["reason"]) for a in audit] == [
        ("promoter.hold", STAFF.id, "chargebacks reported by the store"),
        ("promoter.lift_hold", STAFF.id, "store withdrew the report"),
    ]


async def test_lifting_a_manual_hold_leaves_an_open_anomalys_hold_in_place(db: str) -> None:
    program = await shop()
    me = await promoter(program)
    await referred_order(program, me, "FLAGGED")
    await open_anomaly_on(program, me, "FLAGGED")
    await place_hold(promoter_id=me.id, reason="looking into it", actor=STAFF)

    status = await lift_hold(promoter_id=me.id, reason="manual review done", actor=STAFF)

    assert (status["on_hold"], status["manual_hold_in_force"], status["open_anomalies"]) == (
        True, False, 1
    )  # fmt: skip


async def test_a_promoter_has_one_manual_hold_at_a_time_and_each_needs_a_reason(db: str) -> None:
    program = await shop()
    me = await promoter(program)

    with pytest.raises(ValidationFailed) as blank:
        await place_hold(promoter_id=me.id, reason="   ", actor=STAFF)
    with pytest.raises(Conflict) as not_held:
        await lift_hold(promoter_id=me.id, reason="nothing to lift", actor=STAFF)
    await place_hold(promoter_id=me.id, reason="first", actor=STAFF)
    with pytest.raises(Conflict) as twice:
        await place_hold(promoter_id=me.id, reason="second", actor=STAFF)

    assert blank.value.code == "reason_required"
    assert not_held.value.code == "promoter_not_held"
    assert twice.value.code == "promoter_already_held"
    assert await PromoterHold.filter(promoter_id=me.id).count() == 1
