"""Races on MariaDB, where row locks are real: many requests at one balance, and several finance
users paying one withdrawal at once."""

from __future__ import annotations

import asyncio
from collections import Counter
from decimal import Decimal

import pytest

from server.config import Settings
from server.domain.errors import Conflict, FenxiaoError
from server.models import LedgerEntry, PromoterBalance, Withdrawal
from server.services.payouts.gateway import use_provider
from server.services.payouts.withdrawal_payment import pay_withdrawal
from server.services.payouts.withdrawals import approve_withdrawal, request_withdrawal
from tests.ledger_checks import assert_ledger_reconciles
from tests.payment_fakes import FakeProvider
from tests.withdrawal_builders import FINANCE, funded_promoter, rules_program, withdraw

pytestmark = pytest.mark.mysql

D = Decimal
REQUESTS = 200


async def test_two_hundred_concurrent_requests_never_overdraw_one_balance(
    wide_pool: None,
) -> None:
    program = await rules_program()
    me = await funded_promoter(program, "500.00", "500.00")
    amounts = [D("7.00") if i % 2 else D("13.00") for i in range(REQUESTS)]

    outcomes = await asyncio.gather(
        *(
            request_withdrawal(
                user_id=me.user_id,  # type: ignore[attr-defined]
                program_id=program.id,
                amount=str(amount),
                method="wechat",
                idempotency_key=f"race-{index}",
            )
            for index, amount in enumerate(amounts)
        ),
        return_exceptions=True,
    )

    accepted = [o[0] for o in outcomes if isinstance(o, tuple)]
    refused = [o for o in outcomes if not isinstance(o, tuple)]
    assert all(isinstance(o, FenxiaoError) for o in refused), refused[:3]
    assert Counter(o.code for o in refused) <= Counter(  # type: ignore[union-attr]
        {"withdrawal_exceeds_available": REQUESTS}
    )
    held = sum((D(w["amount"]) for w in accepted), D(0))
    balance = await PromoterBalance.get(promoter_id=me.id)
    assert balance.available >= 0
    assert held <= D("1000.00")
    assert (balance.available, balance.on_hold) == (D("1000.00") - held, held)
    # Every refusal happened because the money was really gone.
    assert not refused or balance.available < max(amounts)
    for withdrawal in accepted:
        kinds = await LedgerEntry.filter(withdrawal_id=withdrawal["id"]).values_list(
            "kind", flat=True
        )
        assert sorted(kinds) == ["hold", "hold"]
    assert await Withdrawal.filter(promoter_id=me.id).count() == len(accepted)
    await assert_ledger_reconciles()


async def test_replaying_one_key_concurrently_creates_one_withdrawal(wide_pool: None) -> None:
    program = await rules_program()
    me = await funded_promoter(program, "100.00")

    outcomes = await asyncio.gather(
        *(
            request_withdrawal(
                user_id=me.user_id,  # type: ignore[attr-defined]
                program_id=program.id,
                amount="10.00",
                method="wechat",
                idempotency_key="same",
            )
            for _ in range(20)
        )
    )

    assert len({w["id"] for w, _ in outcomes}) == 1
    assert sum(created for _, created in outcomes) == 1
    assert (await PromoterBalance.get(promoter_id=me.id)).on_hold == D("10.00")


async def test_finance_users_paying_the_same_withdrawal_at_once_pay_it_once(
    wide_pool: None, settings: Settings
) -> None:
    program = await rules_program()
    me = await funded_promoter(program, "80.00")
    withdrawal = await withdraw(me, "80.00")
    await approve_withdrawal(withdrawal_id=withdrawal["id"], actor=FINANCE)
    provider = FakeProvider(delay_seconds=0.05)

    with use_provider(provider):
        outcomes = await asyncio.gather(
            *(
                pay_withdrawal(withdrawal_id=withdrawal["id"], actor=FINANCE, settings=settings)
                for _ in range(2)
            ),
            return_exceptions=True,
        )

    paid = [o for o in outcomes if isinstance(o, dict)]
    refused = [o for o in outcomes if isinstance(o, Exception)]
    assert [p["status"] for p in paid] == ["paid"]
    assert len(refused) == 1 and isinstance(refused[0], Conflict), refused
    assert len(provider.transfers) == 1
    pays = await LedgerEntry.filter(withdrawal_id=withdrawal["id"], kind="pay")
    assert sorted(e.account for e in pays) == ["on_hold", "paid"]
    assert (await PromoterBalance.get(promoter_id=me.id)).paid == D("80.00")
    await assert_ledger_reconciles()
