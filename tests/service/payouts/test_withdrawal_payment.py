from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest

from server import clock
from server.config import Settings
from server.domain.errors import Conflict, IllegalTransition
from server.models import Commission, LedgerEntry, Notification, Withdrawal, WithdrawalChange
from server.services.payouts.gateway import use_provider
from server.services.payouts.withdrawal_payment import (
    mark_withdrawal_paid,
    pay_withdrawal,
    release_withdrawal,
    resolve_pending_transfers,
    resolve_withdrawal,
    retry_withdrawal,
    transfer_grace,
)
from server.services.payouts.withdrawals import PayeeAccount, approve_withdrawal
from tests.ledger_checks import assert_ledger_reconciles
from tests.payment_fakes import FakeProvider
from tests.withdrawal_builders import (
    FINANCE,
    OTHER_FINANCE,
    balances,
    funded_promoter,
    rules_program,
    withdraw,
)

D = Decimal


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    fake = FakeProvider()
    with use_provider(fake):
        yield fake


async def _approved(amount: str = "60.00", **rules: str) -> tuple[int, object]:
    program = await rules_program(
        minimum="10.00", fee_fixed="1.00", tax_withholding_percent="10", **rules
    )
    me = await funded_promoter(program, "40.00", "60.00")
    withdrawal = await withdraw(me, amount)
    await approve_withdrawal(withdrawal_id=withdrawal["id"], actor=FINANCE)
    return withdrawal["id"], me


async def _entries(withdrawal_id: int) -> list[tuple[str, str, Decimal]]:
    rows = await LedgerEntry.filter(withdrawal_id=withdrawal_id).order_by("id")
    return [(e.kind, e.account, e.amount) for e in rows]


async def test_a_paid_withdrawal_posts_fee_tax_and_net_and_marks_covered_commissions_paid(
    db: str, settings: Settings, provider: FakeProvider
) -> None:
    withdrawal_id, me = await _approved("60.00")

    paid = await pay_withdrawal(withdrawal_id=withdrawal_id, actor=FINANCE, settings=settings)

    assert (paid["status"], paid["fee"], paid["tax"], paid["net"]) == (
        "paid",
        "1.00",
        "6.00",
        "53.00",
    )
    assert [(r.amount, r.openid) for r in provider.transfers] == [
        (D("53.00"), paid["account"]["openid"])
    ]
    assert (await _entries(withdrawal_id))[2:] == [
        ("fee", "on_hold", D("-1.00")),
        ("tax", "on_hold", D("-6.00")),
        ("pay", "on_hold", D("-53.00")),
        ("pay", "paid", D("53.00")),
    ]
    assert await balances(me) == (D("40"), D("0"), D("53"))  # type: ignore[arg-type]
    commissions = await Commission.filter(promoter_id=me.id).order_by("id")  # type: ignore[attr-defined]
    # 60 covers the 40 commission fully and 20 of the 60 one.
    assert [(c.status, c.payout_id) for c in commissions] == [
        ("paid", withdrawal_id), ("settled", None)
    ]  # fmt: skip
    (note,) = await Notification.filter(template="withdrawal_paid")
    assert note.data["amount"] == "53.00"
    await assert_ledger_reconciles()


async def test_a_failed_transfer_keeps_the_funds_on_hold_and_a_retry_pays_once(
    db: str, settings: Settings, provider: FakeProvider
) -> None:
    withdrawal_id, me = await _approved()
    provider.will("fail", "succeed")

    failed = await pay_withdrawal(withdrawal_id=withdrawal_id, actor=FINANCE, settings=settings)
    assert (failed["status"], failed["failure_code"]) == ("failed", "NAME_MISMATCH")
    assert await balances(me) == (D("40"), D("60"), D("0"))  # type: ignore[arg-type]

    paid = await retry_withdrawal(withdrawal_id=withdrawal_id, actor=FINANCE, settings=settings)

    assert paid["status"] == "paid"
    bills = [r.out_bill_no for r in provider.transfers]
    assert len(bills) == 2 and bills[0] != bills[1]
    assert provider.paid_bills == [bills[1]]
    assert await balances(me) == (D("40"), D("0"), D("53"))  # type: ignore[arg-type]
    await assert_ledger_reconciles()


async def test_releasing_a_failed_withdrawal_returns_the_funds_and_tells_the_promoter(
    db: str, settings: Settings, provider: FakeProvider
) -> None:
    withdrawal_id, me = await _approved()
    provider.will("fail")
    await pay_withdrawal(withdrawal_id=withdrawal_id, actor=FINANCE, settings=settings)

    released = await release_withdrawal(
        withdrawal_id=withdrawal_id, reason="wrong account", actor=FINANCE
    )

    assert released["status"] == "released"
    assert await balances(me) == (D("100"), D("0"), D("0"))  # type: ignore[arg-type]
    assert await Notification.filter(template="withdrawal_rejected").count() == 1
    with pytest.raises(IllegalTransition):
        await retry_withdrawal(withdrawal_id=withdrawal_id, actor=FINANCE, settings=settings)
    await assert_ledger_reconciles()


async def test_an_uncertain_transfer_is_queried_before_anything_else_and_paid_once(
    db: str, settings: Settings, provider: FakeProvider
) -> None:
    withdrawal_id, me = await _approved()
    provider.will("unknown_but_paid")

    pending = await pay_withdrawal(withdrawal_id=withdrawal_id, actor=FINANCE, settings=settings)
    assert (pending["status"], pending["transfer_phase"]) == ("paying", "unknown")
    assert await balances(me) == (D("40"), D("60"), D("0"))  # type: ignore[arg-type]
    with pytest.raises(IllegalTransition):
        await retry_withdrawal(withdrawal_id=withdrawal_id, actor=FINANCE, settings=settings)
    with pytest.raises(Conflict):
        await pay_withdrawal(withdrawal_id=withdrawal_id, actor=OTHER_FINANCE, settings=settings)

    resolved = await resolve_withdrawal(withdrawal_id=withdrawal_id, settings=settings)

    assert resolved["status"] == "paid"
    assert len(provider.transfers) == 1
    assert provider.queries == [provider.transfers[0].out_bill_no]
    assert await LedgerEntry.filter(withdrawal_id=withdrawal_id, kind="pay").count() == 2
    await assert_ledger_reconciles()


async def test_a_transfer_the_provider_has_no_record_of_fails_only_past_the_grace(
    db: str, settings: Settings, provider: FakeProvider
) -> None:
    withdrawal_id, me = await _approved()
    provider.will("raise", "succeed")
    pending = await pay_withdrawal(withdrawal_id=withdrawal_id, actor=FINANCE, settings=settings)
    assert (pending["status"], pending["failure_code"]) == ("paying", "provider_error")
    sent_at = (await Withdrawal.get(id=withdrawal_id)).transfer_started_at
    assert sent_at is not None
    grace = transfer_grace(settings)

    soon = await resolve_pending_transfers(settings=settings, now=clock.now())
    last_moment = await resolve_withdrawal(
        withdrawal_id=withdrawal_id, settings=settings, now=sent_at + grace - timedelta(seconds=1)
    )
    with pytest.raises(IllegalTransition):
        await retry_withdrawal(withdrawal_id=withdrawal_id, actor=FINANCE, settings=settings)
    past = await resolve_pending_transfers(settings=settings, now=sent_at + grace)

    assert soon["by_status"] == {"paying": 1}
    assert (last_moment["status"], last_moment["transfer_phase"]) == ("paying", "unknown")
    assert past["by_status"] == {"failed": 1}
    await retry_withdrawal(withdrawal_id=withdrawal_id, actor=FINANCE, settings=settings)
    assert len(provider.paid_bills) == 1
    assert await balances(me) == (D("40"), D("0"), D("53"))  # type: ignore[arg-type]
    await assert_ledger_reconciles()


async def test_the_job_settles_a_processing_transfer_once_the_provider_has_paid(
    db: str, settings: Settings, provider: FakeProvider
) -> None:
    withdrawal_id, _ = await _approved()
    provider.will("processing")
    await pay_withdrawal(withdrawal_id=withdrawal_id, actor=FINANCE, settings=settings)

    still = await resolve_pending_transfers(settings=settings, now=clock.now())
    assert still["by_status"] == {"paying": 1}
    provider.will_answer_queries("succeeded")
    done = await resolve_pending_transfers(settings=settings, now=clock.now())

    assert done["by_status"] == {"paid": 1}
    assert (await Withdrawal.get(id=withdrawal_id)).status == "paid"
    actions = await WithdrawalChange.filter(withdrawal_id=withdrawal_id).order_by("id")
    assert [a.action for a in actions] == [
        "request", "approve", "pay", "transfer_pending", "transfer_pending", "succeed"
    ]  # fmt: skip


async def test_a_claim_whose_outcome_was_never_recorded_is_only_queried_after_the_grace(
    db: str, settings: Settings, provider: FakeProvider
) -> None:
    withdrawal_id, _ = await _approved()
    # A server that died between claiming and recording: phase stays `sending`.
    await Withdrawal.filter(id=withdrawal_id).update(
        status="paying", transfer_phase="sending", out_bill_no="FXW-lost",
        transfer_started_at=clock.now(), attempts=1,
    )  # fmt: skip

    early = await resolve_pending_transfers(settings=settings, now=clock.now())
    with pytest.raises(Conflict) as refused:
        await resolve_withdrawal(withdrawal_id=withdrawal_id, settings=settings)
    later = await resolve_pending_transfers(
        settings=settings, now=clock.now() + transfer_grace(settings) + timedelta(seconds=1)
    )

    assert early["checked"] == 0
    assert refused.value.code == "withdrawal_transfer_sending"
    assert later["by_status"] == {"failed": 1}
    assert provider.queries == ["FXW-lost"]


async def test_two_finance_users_paying_at_once_send_one_transfer(
    db: str, settings: Settings, provider: FakeProvider
) -> None:
    withdrawal_id, _ = await _approved()
    provider.delay_seconds = 0.05

    outcomes = await asyncio.gather(
        pay_withdrawal(withdrawal_id=withdrawal_id, actor=FINANCE, settings=settings),
        pay_withdrawal(withdrawal_id=withdrawal_id, actor=OTHER_FINANCE, settings=settings),
        return_exceptions=True,
    )

    refused = [o for o in outcomes if isinstance(o, Exception)]
    assert len(refused) == 1 and isinstance(refused[0], Conflict)
    assert len(provider.transfers) == 1
    assert await LedgerEntry.filter(withdrawal_id=withdrawal_id, kind="pay").count() == 2
    await assert_ledger_reconciles()


async def test_a_bank_withdrawal_is_marked_paid_with_its_reference_not_sent_to_a_provider(
    db: str, settings: Settings, provider: FakeProvider
) -> None:
    program = await rules_program()
    me = await funded_promoter(program, "30.00")
    account = PayeeAccount(bank_name="ICBC", account_name="Li", account_number="62220212345678")
    withdrawal = await withdraw(me, "30.00", method="bank", account=account)
    await approve_withdrawal(withdrawal_id=withdrawal["id"], actor=FINANCE)

    with pytest.raises(Conflict) as manual:
        await pay_withdrawal(withdrawal_id=withdrawal["id"], actor=FINANCE, settings=settings)
    assert manual.value.code == "withdrawal_paid_manually"
    paid = await mark_withdrawal_paid(
        withdrawal_id=withdrawal["id"], reference="BANK-2026-001", actor=FINANCE
    )

    assert (paid["status"], paid["offline_reference"], paid["paid_by"]) == (
        "paid", "BANK-2026-001", FINANCE.id,
    )  # fmt: skip
    assert provider.transfers == []
    assert await balances(me) == (D("0"), D("0"), D("30"))
    assert (await Commission.get(promoter_id=me.id)).status == "paid"
    await assert_ledger_reconciles()


async def test_a_requested_withdrawal_cannot_be_paid_before_approval(
    db: str, settings: Settings, provider: FakeProvider
) -> None:
    program = await rules_program()
    me = await funded_promoter(program, "30.00")
    withdrawal = await withdraw(me, "30.00")

    with pytest.raises(IllegalTransition):
        await pay_withdrawal(withdrawal_id=withdrawal["id"], actor=FINANCE, settings=settings)
    with pytest.raises(IllegalTransition):
        await mark_withdrawal_paid(withdrawal_id=withdrawal["id"], reference="x", actor=FINANCE)
    assert provider.transfers == []
