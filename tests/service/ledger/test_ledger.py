from __future__ import annotations

from decimal import Decimal

import pytest
from tortoise.transactions import in_transaction

from server.domain.errors import Conflict, NotFound, ValidationFailed
from server.models import Commission, LedgerEntry, Program, Promoter, PromoterBalance
from server.services.commissions.settlement import settle_due_commissions
from server.services.ledger.balances import get_balances, reconcile_balances
from server.services.ledger.postings import clawback_commission, post_movement
from tests.ledger_checks import assert_ledger_reconciles, make_commission
from tests.service.promoters.test_hierarchy import new_program, new_promoter

D = Decimal


async def _post(
    promoter: Promoter,
    kind: str,
    postings: list[tuple[str, str]],
    reference: str,
    *,
    currency: str = "CNY",
) -> list[LedgerEntry]:
    async with in_transaction() as conn:
        return await post_movement(
            conn=conn,
            promoter_id=promoter.id,
            program_id=promoter.program_id,  # type: ignore[attr-defined]
            currency=currency,
            kind=kind,
            postings=[(account, D(amount)) for account, amount in postings],
            reference=reference,
        )


async def _cache(promoter: Promoter) -> tuple[Decimal, Decimal, Decimal]:
    row = await PromoterBalance.get(promoter_id=promoter.id)
    return row.available, row.on_hold, row.paid


async def _promoter() -> Promoter:
    return await new_promoter(await new_program())


async def test_a_withdrawal_moves_money_between_accounts_and_each_entry_carries_its_balance(
    db: str,
) -> None:
    me = await _promoter()
    await _post(me, "settle", [("available", "100.00")], "c:1")
    await _post(me, "hold", [("available", "-60"), ("on_hold", "60")], "w:1:hold")
    await _post(me, "fee", [("on_hold", "-2")], "w:1:fee")
    await _post(me, "pay", [("on_hold", "-58"), ("paid", "58")], "w:1:pay")

    assert await _cache(me) == (D("40"), D("0"), D("58"))
    entries = await LedgerEntry.filter(promoter_id=me.id).order_by("id")
    assert [(e.kind, e.account, e.amount, e.balance_after) for e in entries] == [
        ("settle", "available", D("100"), D("100")),
        ("hold", "available", D("-60"), D("40")),
        ("hold", "on_hold", D("60"), D("60")),
        ("fee", "on_hold", D("-2"), D("58")),
        ("pay", "on_hold", D("-58"), D("0")),
        ("pay", "paid", D("58"), D("58")),
    ]
    await assert_ledger_reconciles()


async def test_posting_the_same_reference_twice_changes_nothing(db: str) -> None:
    me = await _promoter()
    first = await _post(me, "settle", [("available", "10.00")], "commission:1:settle")
    again = await _post(me, "settle", [("available", "10.00")], "commission:1:settle")
    assert [e.id for e in again] == [e.id for e in first]
    assert await _cache(me) == (D("10"), D("0"), D("0"))
    assert await LedgerEntry.all().count() == 1
    await assert_ledger_reconciles()


async def test_a_reference_reused_for_another_movement_is_refused(db: str) -> None:
    me = await _promoter()
    await _post(me, "settle", [("available", "10.00")], "ref")
    with pytest.raises(Conflict) as refused:
        await _post(me, "clawback", [("available", "-1.00")], "ref")
    assert refused.value.code == "ledger_reference_conflict"


async def test_a_hold_beyond_the_available_balance_is_refused_and_nothing_is_written(
    db: str,
) -> None:
    me = await _promoter()
    await _post(me, "settle", [("available", "5.00")], "c:1")
    with pytest.raises(Conflict) as refused:
        await _post(me, "hold", [("available", "-5.01"), ("on_hold", "5.01")], "w:1")
    assert refused.value.code == "insufficient_balance"
    assert await LedgerEntry.all().count() == 1
    assert await _cache(me) == (D("5"), D("0"), D("0"))


@pytest.mark.parametrize(
    ("kind", "postings"),
    [
        ("hold", [("available", "-5"), ("on_hold", "4")]),
        ("settle", [("available", "-5")]),
        ("settle", [("paid", "5")]),
        ("pay", [("on_hold", "-5")]),
        ("clawback", [("available", "5")]),
        ("settle", [("available", "0")]),
        ("settle", [("available", "1.001")]),
        ("bonus", [("available", "-5")]),
        ("mystery", [("available", "5")]),
    ],
)
async def test_movements_that_break_their_kinds_posting_rule_are_refused(
    db: str, kind: str, postings: list[tuple[str, str]]
) -> None:
    me = await _promoter()
    with pytest.raises(ValidationFailed) as refused:
        await _post(me, kind, postings, "bad")
    assert refused.value.code == "invalid_movement"
    assert await LedgerEntry.all().count() == 0


async def test_posting_in_another_currency_than_the_programs_is_refused(db: str) -> None:
    me = await _promoter()
    with pytest.raises(ValidationFailed) as refused:
        await _post(me, "settle", [("available", "5")], "c:1", currency="USD")
    assert refused.value.code == "currency_mismatch"
    assert await PromoterBalance.all().count() == 0


async def test_posting_for_an_unknown_promoter_is_refused(db: str) -> None:
    program = await new_program()
    async with in_transaction() as conn:
        with pytest.raises(NotFound):
            await post_movement(
                conn=conn,
                promoter_id=987654,
                program_id=program.id,
                currency="CNY",
                kind="settle",
                postings=[("available", D("1"))],
                reference="r",
            )


async def test_an_error_later_in_the_callers_transaction_leaves_no_entry_behind(db: str) -> None:
    me = await _promoter()
    with pytest.raises(RuntimeError):
        async with in_transaction() as conn:
            await post_movement(
                conn=conn,
                promoter_id=me.id,
                program_id=me.program_id,  # type: ignore[attr-defined]
                currency="CNY",
                kind="settle",
                postings=[("available", D("3"))],
                reference="r",
            )
            raise RuntimeError("the order event failed afterwards")
    assert await LedgerEntry.all().count() == 0
    assert await PromoterBalance.filter(available__not=0).count() == 0


async def _settled(program: Program, me: Promoter, amount: str) -> Commission:
    commission = await make_commission(program, me, amount=amount)
    await settle_due_commissions(now=commission.unlock_at)
    await commission.refresh_from_db()
    return commission


async def test_a_refund_after_settlement_claws_back_the_difference(db: str) -> None:
    program = await new_program()
    me = await new_promoter(program)
    commission = await _settled(program, me, "10.00")
    async with in_transaction() as conn:
        entry = await clawback_commission(
            conn=conn,
            commission=commission,
            new_amount=D("4.00"),
            reason="order refunded in part",
            reference=f"commission:{commission.id}:refund:1",
        )
    assert entry is not None
    assert (entry.kind, entry.account, entry.amount, entry.balance_after) == (
        "clawback", "available", D("-6"), D("4")
    )  # fmt: skip
    await commission.refresh_from_db()
    assert commission.settled_amount == D("4")
    assert (await get_balances(promoter_id=me.id, currency="CNY"))["available"] == "4.00"
    await assert_ledger_reconciles()


async def test_nothing_is_clawed_back_when_the_amount_did_not_drop(db: str) -> None:
    program = await new_program()
    me = await new_promoter(program)
    commission = await _settled(program, me, "10.00")
    async with in_transaction() as conn:
        assert (
            await clawback_commission(
                conn=conn, commission=commission, new_amount=D("10.00"), reason="", reference="r"
            )
            is None
        )
    assert await LedgerEntry.filter(kind="clawback").count() == 0


async def test_only_a_credited_commission_can_be_clawed_back(db: str) -> None:
    program = await new_program()
    me = await new_promoter(program)
    commission = await make_commission(program, me, status="approved")
    async with in_transaction() as conn:
        with pytest.raises(Conflict) as refused:
            await clawback_commission(
                conn=conn, commission=commission, new_amount=D("1"), reason="", reference="r"
            )
    assert refused.value.code == "commission_not_in_ledger"


async def test_a_clawback_beyond_the_balance_is_carried_forward_and_offset_by_later_earnings(
    db: str,
) -> None:
    program = await new_program()
    me = await new_promoter(program)
    first = await _settled(program, me, "10.00")
    await _post(me, "hold", [("available", "-8"), ("on_hold", "8")], "w:1:hold")
    await _post(me, "pay", [("on_hold", "-8"), ("paid", "8")], "w:1:pay")
    async with in_transaction() as conn:
        await clawback_commission(
            conn=conn,
            commission=first,
            new_amount=D("0"),
            reason="order refunded in full",
            reference=f"commission:{first.id}:refund:1",
        )
    owed = await get_balances(promoter_id=me.id, currency="CNY")
    assert (owed["available"], owed["carried_forward"], owed["paid"]) == ("0.00", "8.00", "8.00")
    with pytest.raises(Conflict):
        await _post(me, "hold", [("available", "-1"), ("on_hold", "1")], "w:2:hold")

    await _settled(program, me, "5.00")
    still_owed = await get_balances(promoter_id=me.id, currency="CNY")
    assert (still_owed["available"], still_owed["carried_forward"]) == ("0.00", "3.00")
    await _settled(program, me, "7.50")
    repaid = await get_balances(promoter_id=me.id, currency="CNY")
    assert (repaid["available"], repaid["carried_forward"]) == ("4.50", "0.00")
    await assert_ledger_reconciles()


async def test_pending_counts_pending_and_approved_commissions_but_not_the_rest(db: str) -> None:
    program = await new_program()
    me = await new_promoter(program)
    await make_commission(program, me, amount="1.10", status="pending")
    await make_commission(program, me, amount="2.20", status="approved", unlocked_days_ago=None)
    await make_commission(program, me, amount="4.00", status="rejected")
    await make_commission(program, me, amount="8.00", status="reversed")
    balances = await get_balances(promoter_id=me.id, currency="CNY")
    assert balances == {
        "currency": "CNY",
        "pending": "3.30",
        "available": "0.00",
        "on_hold": "0.00",
        "paid": "0.00",
        "carried_forward": "0.00",
    }


async def test_reconcile_finds_a_tampered_cache_and_a_tampered_entry(db: str) -> None:
    program = await new_program()
    me, other = await new_promoter(program), await new_promoter(program)
    await _post(me, "settle", [("available", "10.00")], "a")
    await _post(other, "settle", [("available", "3.00")], "b")
    assert (await reconcile_balances()).to_dict()["drift_count"] == 0

    await PromoterBalance.filter(promoter_id=me.id).update(available=D("11.00"))
    await LedgerEntry.filter(reference="b").update(amount=D("2.00"))
    report = await reconcile_balances()
    assert report.drift_count == 2
    assert sorted((d.promoter_id, d.account, str(d.cached)) for d in report.drifts) == sorted(
        [(me.id, "available", "11.00"), (other.id, "available", "3.00")]
    )
    mine = next(d for d in report.drifts if d.promoter_id == me.id)
    assert (mine.entries_sum, mine.last_balance_after) == (D("10"), D("10"))
    only_other = await reconcile_balances(promoter_ids=[other.id])
    assert [d.promoter_id for d in only_other.drifts] == [other.id]


async def test_reconcile_finds_entries_whose_balance_row_is_missing(db: str) -> None:
    me = await _promoter()
    await _post(me, "settle", [("available", "10.00")], "a")
    await PromoterBalance.filter(promoter_id=me.id).delete()
    report = await reconcile_balances()
    assert [(d.promoter_id, d.cached, d.entries_sum) for d in report.drifts] == [
        (me.id, D("0"), D("10"))
    ]
