"""A promoter on fraud hold may still ask to withdraw, but the request waits for staff: finance
can neither approve nor pay a held promoter's withdrawal (409 promoter_on_hold) until the hold
is lifted, and nothing is sent meanwhile."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from server.auth import Principal
from server.config import Settings
from server.domain.errors import Conflict
from server.models import Withdrawal
from server.services.fraud.holds import lift_hold, place_hold
from server.services.payouts.batches import create_manual_batch, pay_batch
from server.services.payouts.gateway import use_provider
from server.services.payouts.withdrawal_payment import mark_withdrawal_paid, pay_withdrawal
from server.services.payouts.withdrawals import approve_withdrawal, reject_withdrawal
from tests.ledger_checks import assert_ledger_reconciles
from tests.payment_fakes import FakeProvider
from tests.withdrawal_builders import FINANCE, balances, funded_promoter, rules_program, withdraw

D = Decimal
STAFF = Principal(kind="staff", id=5, roles=frozenset({"staff"}))


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    fake = FakeProvider()
    with use_provider(fake):
        yield fake


async def test_a_held_promoters_request_waits_and_finance_cannot_approve_it(
    db: str, provider: FakeProvider
) -> None:
    program = await rules_program()
    me = await funded_promoter(program, "50.00")
    await place_hold(promoter_id=me.id, reason="under review", actor=STAFF)

    asked = await withdraw(me, "50.00")
    with pytest.raises(Conflict) as refused:
        await approve_withdrawal(withdrawal_id=asked["id"], actor=FINANCE)

    assert asked["status"] == "requested"
    assert await balances(me) == (D("0"), D("50"), D("0"))
    assert refused.value.code == "promoter_on_hold"
    assert (await Withdrawal.get(id=asked["id"])).status == "requested"

    await lift_hold(promoter_id=me.id, reason="cleared", actor=STAFF)
    await approve_withdrawal(withdrawal_id=asked["id"], actor=FINANCE)
    paid = await pay_withdrawal(withdrawal_id=asked["id"], actor=FINANCE, settings=Settings())

    assert paid["status"] == "paid"
    await assert_ledger_reconciles()


async def test_an_approved_withdrawal_is_not_paid_once_its_promoter_is_held(
    db: str, provider: FakeProvider
) -> None:
    program = await rules_program()
    me = await funded_promoter(program, "50.00", "30.00")
    wechat = await withdraw(me, "50.00")
    bank = await withdraw(me, "30.00", method="offline")
    for asked in (wechat, bank):
        await approve_withdrawal(withdrawal_id=asked["id"], actor=FINANCE)
    await place_hold(promoter_id=me.id, reason="chargebacks", actor=STAFF)

    with pytest.raises(Conflict) as by_transfer:
        await pay_withdrawal(withdrawal_id=wechat["id"], actor=FINANCE, settings=Settings())
    with pytest.raises(Conflict) as by_hand:
        await mark_withdrawal_paid(withdrawal_id=bank["id"], reference="TX-1", actor=FINANCE)

    assert (by_transfer.value.code, by_hand.value.code) == ("promoter_on_hold",) * 2
    assert provider.transfers == []
    stored = await Withdrawal.filter(id__in=[wechat["id"], bank["id"]]).order_by("id")
    assert [(w.status, w.attempts) for w in stored] == [("approved", 0), ("approved", 0)]
    # Rejecting gives the money back to the balance, which a hold does not forbid.
    rejected = await reject_withdrawal(withdrawal_id=bank["id"], reason="held", actor=FINANCE)
    assert rejected["status"] == "rejected"
    await assert_ledger_reconciles()


async def test_paying_a_batch_skips_a_promoter_held_after_it_was_made(
    db: str, provider: FakeProvider
) -> None:
    program = await rules_program()
    me = await funded_promoter(program, "50.00")
    other = await funded_promoter(program, "20.00")
    batch = await create_manual_batch(program_id=program.id, actor=FINANCE)
    await place_hold(promoter_id=me.id, reason="under review", actor=STAFF)

    outcome = await pay_batch(batch_id=batch["id"], actor=FINANCE, settings=Settings())

    by_promoter = {w.promoter_id: w.status for w in await Withdrawal.filter(batch_id=batch["id"])}
    assert by_promoter == {me.id: "approved", other.id: "paid"}
    assert outcome["by_status"] == {"paid": 1, "refused": 1}
    assert {"withdrawal_id": batch["withdrawals"][0]["id"], "error": "promoter_on_hold"} in (
        outcome["withdrawals"]
    )
