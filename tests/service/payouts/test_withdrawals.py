from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from tortoise.transactions import in_transaction

from server import clock
from server.auth import Principal
from server.domain.errors import Conflict, FenxiaoError, IllegalTransition, ValidationFailed
from server.models import (
    AuditLog,
    LedgerEntry,
    Notification,
    PayoutItem,
    Promoter,
    Withdrawal,
    WithdrawalChange,
)
from server.services.commissions.settlement import settle_due_commissions
from server.services.ledger.postings import clawback_commission
from server.services.payouts.queries import my_withdrawals, withdrawal_detail
from server.services.payouts.withdrawals import (
    PayeeAccount,
    approve_withdrawal,
    reject_withdrawal,
    request_withdrawal,
)
from tests.ledger_checks import assert_ledger_reconciles, make_commission
from tests.raw_rows import stored_value
from tests.withdrawal_builders import FINANCE, balances, funded_promoter, rules_program, withdraw

D = Decimal
STAFF = Principal(kind="staff", id=4, roles=frozenset({"staff"}))


async def test_a_request_puts_the_amount_on_hold_with_fee_and_tax_worked_out(db: str) -> None:
    program = await rules_program(fee_percent="1.5", fee_fixed="0.50", tax_withholding_percent="3")
    me = await funded_promoter(program, "100.00")

    withdrawal = await withdraw(me, "60.33")

    # fee = 0.50 + 1.5% × 60.33 = 1.40495 → 1.40; tax = 3% × 60.33 = 1.8099 → 1.80
    assert (withdrawal["status"], withdrawal["fee"], withdrawal["tax"], withdrawal["net"]) == (
        "requested", "1.40", "1.80", "57.13",
    )  # fmt: skip
    assert await balances(me) == (D("39.67"), D("60.33"), D("0"))
    holds = await LedgerEntry.filter(withdrawal_id=withdrawal["id"]).values_list("kind", flat=True)
    assert sorted(holds) == ["hold", "hold"]
    await assert_ledger_reconciles()


async def test_a_withdrawal_above_the_available_balance_is_refused_and_nothing_is_held(
    db: str,
) -> None:
    program = await rules_program()
    me = await funded_promoter(program, "20.00")

    with pytest.raises(Conflict) as refused:
        await withdraw(me, "20.01")

    assert refused.value.code == "withdrawal_exceeds_available"
    assert await Withdrawal.all().count() == 0
    assert await balances(me) == (D("20"), D("0"), D("0"))


@pytest.mark.parametrize(
    ("rules", "amount", "method", "currency", "code"),
    [
        ({"minimum": "10.00"}, "9.99", "wechat", None, "withdrawal_below_minimum"),
        ({"methods": ["bank"]}, "5.00", "wechat", None, "withdrawal_method_not_allowed"),
        ({}, "5.001", "wechat", None, "withdrawal_invalid_amount"),
        ({}, "-5", "wechat", None, "withdrawal_invalid_amount"),
        ({}, "5.00", "wechat", "USD", "currency_mismatch"),
        ({"fee_fixed": "2.00", "minimum": "2.01", "fee_percent": "50"}, "3.00", "wechat", None,
         "withdrawal_net_not_positive"),
    ],
)  # fmt: skip
async def test_a_request_breaking_a_program_rule_is_refused_with_its_code(
    db: str, rules: dict[str, object], amount: str, method: str, currency: str | None, code: str
) -> None:
    program = await rules_program(**rules)
    me = await funded_promoter(program, "50.00")

    with pytest.raises(FenxiaoError) as refused:
        await withdraw(me, amount, method=method, currency=currency)

    assert refused.value.code == code
    assert await Withdrawal.all().count() == 0


async def test_the_daily_cap_counts_todays_requests_but_not_rejected_ones(db: str) -> None:
    program = await rules_program(daily_cap="50.00")
    me = await funded_promoter(program, "200.00")
    first = await withdraw(me, "30.00")
    await withdraw(me, "20.00")

    with pytest.raises(Conflict) as capped:
        await withdraw(me, "1.00")
    assert capped.value.code == "withdrawal_daily_cap_exceeded"

    await reject_withdrawal(withdrawal_id=first["id"], reason="duplicate", actor=FINANCE)
    await withdraw(me, "30.00")
    clock.advance(timedelta(days=1))
    await withdraw(me, "50.00")
    await assert_ledger_reconciles()


async def test_a_replayed_idempotency_key_returns_the_same_withdrawal_and_holds_once(
    db: str,
) -> None:
    program = await rules_program()
    me = await funded_promoter(program, "100.00")

    first, created = await request_withdrawal(
        user_id=me.user_id, program_id=program.id, amount="40", method="wechat", idempotency_key="k"
    )  # fmt: skip
    again, created_again = await request_withdrawal(
        user_id=me.user_id, program_id=program.id, amount="40.00", method="wechat",
        idempotency_key="k",
    )  # fmt: skip

    assert (created, created_again) == (True, False)
    assert again["id"] == first["id"]
    assert await balances(me) == (D("60"), D("40"), D("0"))
    with pytest.raises(Conflict) as reused:
        await withdraw(me, "41.00", key="k")
    assert reused.value.code == "idempotency_key_reused"


async def test_a_bank_account_number_is_sealed_masked_and_plain_only_to_finance_audited(
    db: str,
) -> None:
    program = await rules_program()
    me = await funded_promoter(program, "100.00")
    with pytest.raises(ValidationFailed) as missing:
        await withdraw(me, "10.00", method="bank", account=PayeeAccount(bank_name="ICBC"))
    assert missing.value.code == "bank_details_required"

    account = PayeeAccount(
        bank_name="ICBC", account_name="Li Lei", account_number="6222021234567890"
    )
    withdrawal = await withdraw(me, "10.00", method="bank", account=account)

    assert withdrawal["account"]["account_number"] == "************7890"
    stored = await stored_value("withdrawals", "account_number", withdrawal["id"])
    assert "12345678" not in stored
    staff = await withdrawal_detail(withdrawal_id=withdrawal["id"], viewer="staff", reader=STAFF)
    assert staff["account"]["account_number"] == "************7890"
    assert not await AuditLog.filter(action="withdrawal.account_number_revealed").exists()
    detail = await withdrawal_detail(
        withdrawal_id=withdrawal["id"], viewer="finance", reader=FINANCE
    )
    assert detail["account"]["account_number"] == "6222021234567890"
    entry = await AuditLog.get(action="withdrawal.account_number_revealed")
    assert (entry.actor_id, entry.target_id) == (FINANCE.id, withdrawal["id"])


async def test_rejecting_releases_the_funds_notifies_the_promoter_and_is_audited(db: str) -> None:
    program = await rules_program()
    me = await funded_promoter(program, "100.00")
    withdrawal = await withdraw(me, "70.00")

    with pytest.raises(ValidationFailed):
        await reject_withdrawal(withdrawal_id=withdrawal["id"], reason="  ", actor=FINANCE)
    rejected = await reject_withdrawal(
        withdrawal_id=withdrawal["id"], reason="account under review", actor=FINANCE
    )

    assert rejected["status"] == "rejected"
    assert await balances(me) == (D("100"), D("0"), D("0"))
    (note,) = await Notification.filter(user_id=me.user_id)  # type: ignore[attr-defined]
    assert (note.template, note.data["reason"]) == ("withdrawal_rejected", "account under review")
    history = await WithdrawalChange.filter(withdrawal_id=withdrawal["id"]).order_by("id")
    assert [(h.action, h.to_status) for h in history] == [
        ("request", "requested"), ("reject", "rejected")
    ]  # fmt: skip
    assert await AuditLog.filter(action="withdrawal.reject", actor_id=FINANCE.id).count() == 1
    with pytest.raises(IllegalTransition) as again:
        await reject_withdrawal(withdrawal_id=withdrawal["id"], reason="twice", actor=FINANCE)
    assert again.value.code == "withdrawal_illegal_transition"
    await assert_ledger_reconciles()


async def test_approving_twice_is_an_illegal_transition(db: str) -> None:
    program = await rules_program()
    me = await funded_promoter(program, "10.00")
    withdrawal = await withdraw(me, "10.00")

    approved = await approve_withdrawal(withdrawal_id=withdrawal["id"], actor=FINANCE)
    assert (approved["status"], approved["approved_by"]) == ("approved", FINANCE.id)
    with pytest.raises(IllegalTransition):
        await approve_withdrawal(withdrawal_id=withdrawal["id"], actor=FINANCE)


async def test_a_withdrawal_covers_the_oldest_commissions_first_and_may_split_one(
    db: str,
) -> None:
    program = await rules_program()
    me = await funded_promoter(program, "10.00", "20.00", "30.00")

    first = await withdraw(me, "25.00")
    second = await withdraw(me, "35.00")

    def covered(items: list[dict[str, object]]) -> list[tuple[object, object]]:
        return [(i["commission"]["id"], i["amount"]) for i in items]  # type: ignore[index]

    detail = await withdrawal_detail(withdrawal_id=first["id"], viewer="staff")
    ids = sorted(c for c, _ in covered(detail["items"]))
    c10, c20 = ids
    assert covered(detail["items"]) == [(c10, "10.00"), (c20, "15.00")]
    later = await withdrawal_detail(withdrawal_id=second["id"], viewer="staff")
    assert [a for _, a in covered(later["items"])] == ["5.00", "30.00"]
    assert later["items"][1]["order"]["id"] is not None


async def test_a_clawback_after_payout_is_netted_first_by_the_next_withdrawal(db: str) -> None:
    program = await rules_program()
    me = await funded_promoter(program, "50.00")
    [commission] = await me.commissions.all()  # type: ignore[attr-defined]
    await withdraw(me, "50.00")
    # Pretend the 50 was paid out, then a refund claws 20 back and new earnings arrive.
    await Withdrawal.filter(promoter_id=me.id).update(status="paid")
    async with in_transaction() as conn:
        await clawback_commission(
            conn=conn, commission=commission, new_amount=D("30.00"), reason="refund", reference="r1"
        )
    await make_commission(program, me, amount="40.00")
    await settle_due_commissions(now=clock.now())
    assert (await balances(me))[0] == D("20.00")

    withdrawal = await withdraw(me, "20.00")

    items = await PayoutItem.filter(withdrawal_id=withdrawal["id"]).order_by("id")
    assert [(i.commission_id == commission.id, i.amount) for i in items] == [
        (True, D("-20.00")), (False, D("40.00"))
    ]  # fmt: skip
    assert sum(i.amount for i in items) == D("20.00")


async def test_a_promoter_lists_only_their_own_withdrawals(db: str) -> None:
    program = await rules_program()
    me = await funded_promoter(program, "30.00")
    other = await funded_promoter(program, "30.00")
    mine = [await withdraw(me, "5.00") for _ in range(3)]
    await withdraw(other, "5.00")

    page = await my_withdrawals(user_id=me.user_id, program_id=program.id, limit=2)  # type: ignore[attr-defined]
    rest = await my_withdrawals(
        user_id=me.user_id,
        program_id=program.id,
        limit=2,
        cursor=page["next_cursor"],  # type: ignore[attr-defined]
    )

    listed = [w["id"] for w in page["items"] + rest["items"]]
    assert listed == [w["id"] for w in reversed(mine)]
    assert rest["next_cursor"] is None


async def test_a_yen_program_holds_whole_yen_with_the_fee_rounded_down(db: str) -> None:
    program = await rules_program(currency="JPY", minimum="100", fee_percent="1.5")
    me = await funded_promoter(program, "5000")

    withdrawal = await withdraw(me, "999", method="offline")

    assert (withdrawal["currency"], withdrawal["fee"], withdrawal["net"]) == ("JPY", "14", "985")
    assert await balances(me) == (D("4001"), D("999"), D("0"))
    with pytest.raises(FenxiaoError) as fraction:
        await withdraw(me, "100.5", method="offline")
    assert fraction.value.code == "withdrawal_invalid_amount"
    await assert_ledger_reconciles()


async def test_a_suspended_promoter_cannot_withdraw(db: str) -> None:
    program = await rules_program()
    me = await funded_promoter(program, "50.00")
    await Promoter.filter(id=me.id).update(status="suspended")

    with pytest.raises(Conflict) as refused:
        await withdraw(me, "10.00")

    assert refused.value.code == "promoter_suspended"
