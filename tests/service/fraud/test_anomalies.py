"""Anomalies through the ledger: an open anomaly holds its commissions; confirming rejects or
reverses them (and may suspend the promoter); dismissing releases them to settle."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

import pytest
from tortoise.transactions import in_transaction

from server.auth import Principal
from server.domain.errors import Conflict, ValidationFailed
from server.domain.fraud.findings import AnomalyKind, Finding, SubjectKind
from server.models import (
    Anomaly,
    AnomalyLink,
    AuditLog,
    Commission,
    CommissionChange,
    Promoter,
    User,
)
from server.services.commissions.settlement import approve_due_commissions, settle_due_commissions
from server.services.fraud.anomalies import record_finding
from server.services.fraud.decisions import decide_anomalies
from tests.ledger_checks import assert_ledger_reconciles
from tests.order_builders import (
    APPID,
    T0,
    available,
    bind,
    commissions_of,
    completed,
    customer,
    ledger_kinds,
    line,
    order_of,
    paid,
    promoter,
    send_ok,
    settle_order,
    shop,
    unique,
)

D = Decimal
STAFF = Principal(kind="staff", id=5, roles=frozenset({"staff"}))


async def twin_promoter_and_buyer(program):  # type: ignore[no-untyped-def]
    """A promoter and a 'customer' who are one person: two accounts with one unionid."""
    union = unique("union")
    me = await promoter(
        program, user=await User.create(appid="other-app", openid=unique("o"), unionid=union)
    )
    buyer = await User.create(appid=APPID, openid=unique("openid"), unionid=union)
    return me, buyer


async def statuses(program, external_id: str) -> dict[tuple[str, int], tuple[str, str | None]]:  # type: ignore[no-untyped-def]
    return {
        key: (c.status, c.hold_reason)
        for key, c in (await commissions_of(program, external_id)).items()
    }


async def freeze_over(program, external_id: str) -> None:  # type: ignore[no-untyped-def]
    """Complete the order and run the approval and settlement jobs after the freeze."""
    await settle_order(program, external_id, completed_at=T0 + timedelta(days=1))


async def test_an_order_paid_to_a_promoter_who_is_the_buyer_is_held_at_once(db: str) -> None:
    program = await shop()
    upline = await promoter(program)
    me, buyer = await twin_promoter_and_buyer(program)
    await Promoter.filter(id=me.id).update(parent_id=upline.id)
    await bind(program, me, user=buyer)

    await send_ok(program, paid("SELF-1", line(amount="100.00"), buyer=buyer))

    [anomaly] = await Anomaly.all()
    assert (anomaly.kind, anomaly.subject_kind, anomaly.status, anomaly.source) == (
        "self_referral", "order", "open", "inline"
    )  # fmt: skip
    assert anomaly.promoter_id == me.id
    assert anomaly.evidence["beneficiaries"][0]["signals"] == ["unionid"]
    [commission] = (await commissions_of(program, "SELF-1")).values()
    assert commission.hold_reason == f"anomaly:{anomaly.id}"
    changes = await CommissionChange.filter(commission_id=commission.id).order_by("id")
    assert [c.action for c in changes] == ["created", "hold"]

    await freeze_over(program, "SELF-1")
    # Neither auto-approved nor settled while the anomaly is open.
    assert await statuses(program, "SELF-1") == {("L1", 1): ("pending", f"anomaly:{anomaly.id}")}
    assert await available(me.id) == D("0")


async def test_a_genuine_self_purchase_rebate_opens_no_anomaly(db: str) -> None:
    program = await shop(self_rebate_enabled=True, self_rebate_rate="3")
    upline = await promoter(program)
    buyer = await customer()
    await promoter(program, upline, user=buyer)

    await send_ok(program, paid("REBATE-1", line(amount="100.00"), buyer=buyer))

    assert await Anomaly.all().count() == 0
    assert set(await statuses(program, "REBATE-1")) == {("L1", 0), ("L1", 1)}


async def test_a_conversion_seconds_after_its_visit_is_held_as_no_dwell(db: str) -> None:
    program = await shop()
    me = await promoter(program)
    buyer = await customer()
    await bind(program, me, user=buyer, at=T0 - timedelta(seconds=1))

    await send_ok(program, paid("FAST-1", line(), buyer=buyer))

    [anomaly] = await Anomaly.all()
    assert anomaly.kind == "no_dwell_conversion"
    assert (await statuses(program, "FAST-1"))[("L1", 1)][1] == f"anomaly:{anomaly.id}"


async def test_an_ordinary_referral_opens_no_anomaly(db: str) -> None:
    program = await shop()
    me = await promoter(program)
    buyer = await customer()
    await bind(program, me, user=buyer)

    await send_ok(program, paid("OK-1", line(), buyer=buyer))

    assert await Anomaly.all().count() == 0


async def test_confirming_rejects_held_commissions_and_suspends_the_promoter(db: str) -> None:
    program = await shop()
    me, buyer = await twin_promoter_and_buyer(program)
    await bind(program, me, user=buyer)
    await send_ok(program, paid("SELF-2", line(amount="50.00"), buyer=buyer))
    [anomaly] = await Anomaly.all()

    [outcome] = await decide_anomalies(
        ids=[anomaly.id], action="confirm", note="same person", actor=STAFF, suspend_promoter=True
    )

    [commission] = (await commissions_of(program, "SELF-2")).values()
    assert (commission.status, commission.hold_reason) == ("rejected", None)
    assert "same person" in (commission.reject_reason or "")
    assert outcome["rejected_commission_ids"] == [commission.id]
    assert outcome["promoter_suspended"] is True
    assert (await Promoter.get(id=me.id)).status == "suspended"
    decided = await Anomaly.get(id=anomaly.id)
    assert (decided.status, decided.decided_by, decided.note, decided.open_key) == (
        "confirmed", STAFF.id, "same person", None
    )  # fmt: skip
    assert await AuditLog.filter(action="anomaly.confirm", target_id=anomaly.id).exists()


async def _settled_order(program, me, buyer, external_id: str) -> Commission:  # type: ignore[no-untyped-def]
    await send_ok(program, paid(external_id, line(amount="100.00"), buyer=buyer))
    await freeze_over(program, external_id)
    [commission] = (await commissions_of(program, external_id)).values()
    assert commission.status == "settled"
    return commission


def _spike_on(order_id: int, promoter_id: int, detail: str = "") -> Finding:
    return Finding(
        kind=AnomalyKind.VELOCITY_SPIKE,
        subject_kind=SubjectKind.PROMOTER,
        subject_id=str(promoter_id),
        score=70,
        promoter_id=promoter_id,
        detail=detail,
        evidence={"window_orders": 60},
        order_ids=(order_id,),
    )


async def test_confirming_reverses_a_settled_commission_through_the_ledger(db: str) -> None:
    program = await shop()
    me = await promoter(program)
    buyer = await customer()
    await bind(program, me, user=buyer)
    commission = await _settled_order(program, me, buyer, "LATE-1")
    assert await available(me.id) == D("10.00")
    order = await order_of(program, "LATE-1")
    async with in_transaction() as conn:
        anomaly = await record_finding(
            conn=conn, program_id=program.id, finding=_spike_on(order.id, me.id), source="scan"
        )
    assert anomaly is not None

    [outcome] = await decide_anomalies(
        ids=[anomaly.id], action="confirm", note="fake orders", actor=STAFF
    )

    reversed_ = await Commission.get(id=commission.id)
    assert (reversed_.status, reversed_.amount, reversed_.settled_amount) == (
        "reversed", D("0"), D("0")
    )  # fmt: skip
    assert outcome["reversed_commission_ids"] == [commission.id]
    assert outcome["clawed_back"] == "10.00"
    assert await ledger_kinds(me.id) == [("settle", D("10.00")), ("clawback", D("-10.00"))]
    assert await available(me.id) == D("0.00")
    assert (await Promoter.get(id=me.id)).status == "approved"  # not asked to suspend
    await assert_ledger_reconciles([me.id])


async def test_dismissing_releases_the_hold_and_the_commission_then_settles(db: str) -> None:
    program = await shop()
    me, buyer = await twin_promoter_and_buyer(program)
    await bind(program, me, user=buyer)
    await send_ok(program, paid("SELF-3", line(amount="100.00"), buyer=buyer))
    [anomaly] = await Anomaly.all()

    [outcome] = await decide_anomalies(
        ids=[anomaly.id], action="dismiss", note="a household, not fraud", actor=STAFF
    )
    [commission] = (await commissions_of(program, "SELF-3")).values()
    assert outcome["released_commission_ids"] == [commission.id]
    assert commission.hold_reason is None
    await freeze_over(program, "SELF-3")

    assert await statuses(program, "SELF-3") == {("L1", 1): ("settled", None)}
    assert await available(me.id) == D("10.00")
    changes = await CommissionChange.filter(commission_id=commission.id).order_by("id")
    assert [c.action for c in changes][:3] == ["created", "hold", "release"]
    await assert_ledger_reconciles([me.id])


async def test_dismissing_one_anomaly_keeps_the_hold_of_another_open_one(db: str) -> None:
    program = await shop()
    me, buyer = await twin_promoter_and_buyer(program)
    await bind(program, me, user=buyer)
    await send_ok(program, paid("SELF-4", line(), buyer=buyer))
    [first] = await Anomaly.all()
    order = await order_of(program, "SELF-4")
    async with in_transaction() as conn:
        second = await record_finding(
            conn=conn, program_id=program.id, finding=_spike_on(order.id, me.id), source="scan"
        )
    assert second is not None

    await decide_anomalies(ids=[first.id], action="dismiss", note="looked fine", actor=STAFF)

    [commission] = (await commissions_of(program, "SELF-4")).values()
    assert commission.hold_reason == f"anomaly:{second.id}"
    await approve_due_commissions(now=T0 + timedelta(days=30))
    await settle_due_commissions(now=T0 + timedelta(days=30))
    assert (await Commission.get(id=commission.id)).status == "pending"


async def test_finding_the_same_thing_again_grows_the_open_anomaly_instead_of_duplicating(
    db: str,
) -> None:
    program = await shop()
    me = await promoter(program)
    buyer = await customer()
    await bind(program, me, user=buyer)
    await send_ok(program, paid("V-1", line(), buyer=buyer))
    await send_ok(program, paid("V-2", line(), buyer=buyer))
    first_order = await order_of(program, "V-1")
    second_order = await order_of(program, "V-2")

    async with in_transaction() as conn:
        opened = await record_finding(
            conn=conn,
            program_id=program.id,
            finding=_spike_on(first_order.id, me.id),
            source="scan",
        )
        again = await record_finding(
            conn=conn,
            program_id=program.id,
            finding=_spike_on(first_order.id, me.id),
            source="scan",
        )
        grown = await record_finding(
            conn=conn,
            program_id=program.id,
            finding=_spike_on(second_order.id, me.id),
            source="scan",
        )
    assert opened is not None and again is not None and grown is not None
    assert opened.id == again.id == grown.id
    assert await Anomaly.all().count() == 1
    orders = await AnomalyLink.filter(anomaly_id=opened.id, target_kind="order").values_list(
        "target_id", flat=True
    )
    assert sorted(orders) == sorted([first_order.id, second_order.id])


async def test_a_dismissed_finding_found_again_stays_dismissed(db: str) -> None:
    program = await shop()
    me = await promoter(program)
    buyer = await customer()
    await bind(program, me, user=buyer)
    await send_ok(program, paid("D-1", line(), buyer=buyer))
    order = await order_of(program, "D-1")
    async with in_transaction() as conn:
        anomaly = await record_finding(
            conn=conn, program_id=program.id, finding=_spike_on(order.id, me.id), source="scan"
        )
    assert anomaly is not None
    await decide_anomalies(ids=[anomaly.id], action="dismiss", note="campaign day", actor=STAFF)

    async with in_transaction() as conn:
        again = await record_finding(
            conn=conn, program_id=program.id, finding=_spike_on(order.id, me.id), source="scan"
        )

    assert again is None
    assert await Anomaly.all().count() == 1
    [commission] = (await commissions_of(program, "D-1")).values()
    assert commission.hold_reason is None


async def test_a_bulk_decision_is_all_or_none(db: str) -> None:
    program = await shop()
    me, buyer = await twin_promoter_and_buyer(program)
    await bind(program, me, user=buyer)
    await send_ok(program, paid("B-1", line(), buyer=buyer))
    await send_ok(program, paid("B-2", line(), buyer=buyer))
    first, second = await Anomaly.all().order_by("id")
    await decide_anomalies(ids=[first.id], action="dismiss", note="ok", actor=STAFF)

    with pytest.raises(Conflict) as refused:
        await decide_anomalies(ids=[first.id, second.id], action="confirm", note="x", actor=STAFF)

    assert refused.value.code == "anomaly_already_decided"
    assert set(refused.value.fields) == {str(first.id)}
    assert (await Anomaly.get(id=second.id)).status == "open"
    assert (await statuses(program, "B-2"))[("L1", 1)][0] == "pending"


async def test_a_decision_needs_a_note(db: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        await decide_anomalies(ids=[1], action="dismiss", note="  ", actor=STAFF)
    assert refused.value.code == "note_required"


async def test_completing_a_held_order_keeps_its_hold(db: str) -> None:
    program = await shop()
    me, buyer = await twin_promoter_and_buyer(program)
    await bind(program, me, user=buyer)
    await send_ok(program, paid("C-1", line(), buyer=buyer))
    await send_ok(program, completed("C-1"))
    [commission] = (await commissions_of(program, "C-1")).values()
    assert commission.hold_reason is not None and commission.unlock_at is not None


async def _record_in_own_transaction(program_id: int, finding: Finding) -> int:
    async with in_transaction() as conn:
        anomaly = await record_finding(
            conn=conn, program_id=program_id, finding=finding, source="scan"
        )
        await asyncio.sleep(0.05)  # keep the transaction open while the other one runs
    assert anomaly is not None
    return anomaly.id


@pytest.mark.mysql
async def test_concurrent_findings_neither_deadlock_nor_duplicate(db: str) -> None:
    program = await shop()
    me = await promoter(program)
    buyer = await customer()
    await bind(program, me, user=buyer)
    for n in range(4):
        await send_ok(program, paid(f"CC-{n}", line(), buyer=buyer))
    orders = [await order_of(program, f"CC-{n}") for n in range(4)]

    same = await asyncio.gather(
        *(_record_in_own_transaction(program.id, _spike_on(o.id, me.id)) for o in orders[:2])
    )
    different = await asyncio.gather(
        *(
            _record_in_own_transaction(program.id, _spike_on(o.id, me.id, detail=str(o.id)))
            for o in orders[2:]
        )
    )

    assert same[0] == same[1]
    assert different[0] != different[1]
    assert await Anomaly.all().count() == 3
    for order in orders:
        [commission] = await Commission.filter(order_id=order.id)
        assert commission.hold_reason is not None
