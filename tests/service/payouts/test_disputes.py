from __future__ import annotations

from decimal import Decimal

import pytest

from server.auth import Principal
from server.domain.errors import Conflict, IllegalTransition, NotFound, ValidationFailed
from server.models import Adjustment, AuditLog, Dispute, LedgerEntry, PromoterBalance
from server.services.payouts import disputes
from tests.ledger_checks import assert_ledger_reconciles, make_commission
from tests.service.promoters.test_hierarchy import new_program, new_promoter

STAFF = Principal(kind="staff", id=11, roles=frozenset({"staff"}))
FINANCE = Principal(kind="staff", id=12, roles=frozenset({"finance"}))


async def _opened():
    program = await new_program()
    me, other = await new_promoter(program), await new_promoter(program)
    commission = await make_commission(program, me, amount="8.00")
    dispute = await disputes.open_dispute(
        user_id=me.user_id,  # type: ignore[attr-defined]
        program_id=program.id,
        commission_id=commission.id,
        external_order_id=None,
        text="my rate should be 12%",
    )
    return program, me, other, commission, dispute


async def test_a_promoter_opens_a_dispute_on_their_commission_and_sees_the_thread(
    db: str,
) -> None:
    _, me, _, commission, dispute = await _opened()
    assert (dispute["status"], dispute["commission_id"], dispute["promoter_id"]) == (
        "open",
        commission.id,
        me.id,
    )
    assert [(m["author"], m["body"]) for m in dispute["messages"]] == [
        ("promoter", "my rate should be 12%")
    ]
    assert "author_id" not in dispute["messages"][0]


async def test_a_promoter_cannot_dispute_another_promoters_commission(db: str) -> None:
    program, _, other, commission, _ = await _opened()
    with pytest.raises(NotFound):
        await disputes.open_dispute(
            user_id=other.user_id,  # type: ignore[attr-defined]
            program_id=program.id,
            commission_id=commission.id,
            external_order_id=None,
            text="mine!",
        )


async def test_a_commission_has_one_open_dispute_at_a_time(db: str) -> None:
    program, me, _, commission, _ = await _opened()
    with pytest.raises(Conflict) as refused:
        await disputes.open_dispute(
            user_id=me.user_id,  # type: ignore[attr-defined]
            program_id=program.id,
            commission_id=commission.id,
            external_order_id=None,
            text="again",
        )
    assert refused.value.code == "dispute_already_open"


async def test_a_promoter_never_sees_another_promoters_dispute(db: str) -> None:
    program, _, other, _, dispute = await _opened()
    with pytest.raises(NotFound):
        await disputes.my_dispute(
            user_id=other.user_id,  # type: ignore[attr-defined]
            program_id=program.id,
            dispute_id=dispute["id"],
        )
    with pytest.raises(NotFound):
        await disputes.promoter_reply(
            user_id=other.user_id,  # type: ignore[attr-defined]
            program_id=program.id,
            dispute_id=dispute["id"],
            text="hi",
        )
    page = await disputes.my_disputes(user_id=other.user_id, program_id=program.id)  # type: ignore[attr-defined]
    assert page["items"] == []


async def test_replies_alternate_the_turn_and_staff_replies_are_audited(db: str) -> None:
    program, me, _, _, dispute = await _opened()
    answered = await disputes.staff_reply(dispute_id=dispute["id"], text="checking", actor=STAFF)
    assert answered["status"] == "awaiting_promoter"
    back = await disputes.promoter_reply(
        user_id=me.user_id,  # type: ignore[attr-defined]
        program_id=program.id,
        dispute_id=dispute["id"],
        text="thanks",
    )
    assert back["status"] == "open"
    assert [m["author"] for m in back["messages"]] == ["promoter", "staff", "promoter"]
    assert await AuditLog.filter(action="dispute.reply", actor_id=STAFF.id).count() == 1


async def test_accepting_a_dispute_pays_an_adjustment_in_the_same_step(db: str) -> None:
    _, me, _, _, dispute = await _opened()
    resolved = await disputes.accept_dispute(
        dispute_id=dispute["id"], amount="4.00", currency="CNY", reason="rate fixed", actor=FINANCE
    )
    assert resolved["status"] == "resolved_accepted"
    assert resolved["adjustment"]["reason_code"] == "dispute_resolution"
    assert resolved["adjustment"]["dispute_id"] == dispute["id"]
    balance = await PromoterBalance.get(promoter_id=me.id)
    assert balance.available == Decimal("4.00")
    assert await AuditLog.filter(action="dispute.accept").count() == 1
    await assert_ledger_reconciles()
    with pytest.raises(IllegalTransition):
        await disputes.reject_dispute(dispute_id=dispute["id"], reason="late", actor=STAFF)


async def test_an_acceptance_in_the_wrong_currency_changes_nothing(db: str) -> None:
    _, _, _, _, dispute = await _opened()
    with pytest.raises(ValidationFailed) as refused:
        await disputes.accept_dispute(
            dispute_id=dispute["id"], amount="4.00", currency="USD", reason="x", actor=FINANCE
        )
    assert refused.value.code == "currency_mismatch"
    assert (await Dispute.get(id=dispute["id"])).status == "open"
    assert await Adjustment.all().count() == 0
    assert await LedgerEntry.all().count() == 0


async def test_a_rejection_needs_a_reason_the_promoter_then_reads(db: str) -> None:
    program, me, _, _, dispute = await _opened()
    with pytest.raises(ValidationFailed):
        await disputes.reject_dispute(dispute_id=dispute["id"], reason="  ", actor=STAFF)
    await disputes.reject_dispute(dispute_id=dispute["id"], reason="rate is 8%", actor=STAFF)
    seen = await disputes.my_dispute(
        user_id=me.user_id,  # type: ignore[attr-defined]
        program_id=program.id,
        dispute_id=dispute["id"],
    )
    assert (seen["status"], seen["resolution_reason"]) == ("resolved_rejected", "rate is 8%")
    assert seen["messages"][-1] == {**seen["messages"][-1], "author": "staff", "body": "rate is 8%"}


async def test_a_missing_order_dispute_names_the_external_order(db: str) -> None:
    program = await new_program()
    me = await new_promoter(program)
    dispute = await disputes.open_dispute(
        user_id=me.user_id,  # type: ignore[attr-defined]
        program_id=program.id,
        commission_id=None,
        external_order_id="SO-778",
        text="my friend bought with my link",
    )
    assert (dispute["subject_kind"], dispute["external_order_id"]) == ("missing_order", "SO-778")
    queue = await disputes.dispute_queue(program_id=program.id, subject_kind="missing_order")
    assert [d["id"] for d in queue["items"]] == [dispute["id"]]
