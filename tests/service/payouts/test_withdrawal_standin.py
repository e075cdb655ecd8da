"""Withdrawals paid through the real WeChat Pay adapters (API v3 and v2) against the WeChat
stand-in over HTTP: the money the stand-in holds as paid is the withdrawal's net, once."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from server.config import Settings
from server.domain.errors import IllegalTransition
from server.integrations.wechat_standin import WeChatStandIn
from server.integrations.wechat_standin_pay_v2 import TRANSFER_PATH as V2_TRANSFER_PATH
from server.integrations.wechat_standin_pay_v3 import TRANSFER_PATH as V3_TRANSFER_PATH
from server.models import Promoter, Withdrawal
from server.services.payouts.queries import my_withdrawal
from server.services.payouts.withdrawal_payment import (
    pay_withdrawal,
    resolve_withdrawal,
    retry_withdrawal,
    transfer_grace,
)
from server.services.payouts.withdrawals import approve_withdrawal
from tests.ledger_checks import assert_ledger_reconciles
from tests.wechat_fixtures import standin_pay_settings
from tests.withdrawal_builders import FINANCE, balances, funded_promoter, rules_program, withdraw

D = Decimal
TRANSFER_PATHS = {"v3": V3_TRANSFER_PATH, "v2": V2_TRANSFER_PATH}


@pytest.fixture(params=sorted(TRANSFER_PATHS))
def version(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def paying_settings(version: str, wechat_settings: Settings, standin: WeChatStandIn) -> Settings:
    return standin_pay_settings(wechat_settings, standin, version=version)


def _paid_bills(standin: WeChatStandIn) -> list[str]:
    """What the stand-in has paid out, by transfer number."""
    return [number for number in standin.transfers if _paid_fen(standin, number)]


def _paid_fen(standin: WeChatStandIn, out_bill_no: str | None) -> int:
    transfer = standin.transfers.get(out_bill_no or "")
    state = getattr(transfer, "state", getattr(transfer, "status", ""))
    return int(transfer.amount_fen) if transfer is not None and state == "SUCCESS" else 0


async def _approved_withdrawal() -> tuple[int, Promoter]:
    program = await rules_program(fee_percent="2")
    me = await funded_promoter(program, "80.00")
    withdrawal = await withdraw(me, "50.00")
    await approve_withdrawal(withdrawal_id=withdrawal["id"], actor=FINANCE)
    return withdrawal["id"], me


async def _pay_then_query(
    withdrawal_id: int, settings: Settings, *, past_grace: timedelta
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Pay, then ask WeChat Pay `past_grace` after the grace from the send has run out."""
    pending = await pay_withdrawal(withdrawal_id=withdrawal_id, actor=FINANCE, settings=settings)
    sent_at = (await Withdrawal.get(id=withdrawal_id)).transfer_started_at
    assert sent_at is not None
    moment = sent_at + transfer_grace(settings) + past_grace
    queried = await resolve_withdrawal(withdrawal_id=withdrawal_id, settings=settings, now=moment)
    return pending, queried


async def test_a_withdrawal_paid_through_wechat_pay_reaches_the_promoter_once(
    db: str, paying_settings: Settings, standin: WeChatStandIn
) -> None:
    withdrawal_id, me = await _approved_withdrawal()

    paid = await pay_withdrawal(
        withdrawal_id=withdrawal_id, actor=FINANCE, settings=paying_settings
    )

    assert paid["status"] == "paid", paid
    assert _paid_fen(standin, paid["out_bill_no"]) == 4900
    assert len(standin.transfers) == 1
    assert await balances(me) == (D("30"), D("0"), D("49"))  # type: ignore[arg-type]
    await assert_ledger_reconciles()


async def test_a_lost_reply_is_resolved_by_a_query_and_never_paid_twice(
    db: str, paying_settings: Settings, standin: WeChatStandIn, version: str
) -> None:
    withdrawal_id, me = await _approved_withdrawal()
    standin.inject_fault("reply_lost", path=TRANSFER_PATHS[version])

    pending = await pay_withdrawal(
        withdrawal_id=withdrawal_id, actor=FINANCE, settings=paying_settings
    )
    assert (pending["status"], pending["transfer_phase"]) == ("paying", "unknown")
    resolved = await resolve_withdrawal(withdrawal_id=withdrawal_id, settings=paying_settings)

    assert resolved["status"] == "paid"
    withdrawal = await Withdrawal.get(id=withdrawal_id)
    assert _paid_fen(standin, withdrawal.out_bill_no) == 4900
    assert len(standin.transfers) == 1
    assert await balances(me) == (D("30"), D("0"), D("49"))  # type: ignore[arg-type]
    await assert_ledger_reconciles()


async def test_a_transfer_wechat_records_late_is_never_paid_a_second_time(
    db: str, paying_settings: Settings, standin: WeChatStandIn, version: str
) -> None:
    withdrawal_id, me = await _approved_withdrawal()
    # WeChat takes the transfer and pays it, the answer times out, and its queries find no
    # record of it for a while.
    standin.inject_fault("recorded_late", path=TRANSFER_PATHS[version], hold_seconds=5)

    pending, not_yet = await _pay_then_query(
        withdrawal_id, paying_settings, past_grace=-timedelta(seconds=1)
    )
    with pytest.raises(IllegalTransition):
        await retry_withdrawal(withdrawal_id=withdrawal_id, actor=FINANCE, settings=paying_settings)
    standin.pay.record_late_transfers()
    resolved = await resolve_withdrawal(withdrawal_id=withdrawal_id, settings=paying_settings)

    assert (pending["status"], pending["transfer_phase"]) == ("paying", "unknown")
    assert (not_yet["status"], not_yet["transfer_phase"]) == ("paying", "unknown")
    assert not_yet["failure_code"] == "NOT_FOUND"
    assert resolved["status"] == "paid"
    assert _paid_bills(standin) == [pending["out_bill_no"]]
    assert _paid_fen(standin, pending["out_bill_no"]) == 4900
    assert await balances(me) == (D("30"), D("0"), D("49"))  # type: ignore[arg-type]
    await assert_ledger_reconciles()


async def test_a_transfer_wechat_never_took_fails_past_the_grace_and_a_retry_pays_once(
    db: str, paying_settings: Settings, standin: WeChatStandIn, version: str
) -> None:
    withdrawal_id, me = await _approved_withdrawal()
    standin.inject_fault("timeout", path=TRANSFER_PATHS[version], hold_seconds=5)

    pending, failed = await _pay_then_query(withdrawal_id, paying_settings, past_grace=timedelta())
    paid = await retry_withdrawal(
        withdrawal_id=withdrawal_id, actor=FINANCE, settings=paying_settings
    )

    assert (pending["status"], failed["status"], paid["status"]) == ("paying", "failed", "paid")
    assert paid["out_bill_no"] != pending["out_bill_no"]
    assert _paid_bills(standin) == [paid["out_bill_no"]]
    assert await balances(me) == (D("30"), D("0"), D("49"))  # type: ignore[arg-type]
    await assert_ledger_reconciles()


async def test_a_transfer_waiting_for_the_promoter_shows_them_what_to_confirm_until_paid(
    db: str, wechat_settings: Settings, standin: WeChatStandIn
) -> None:
    settings = standin_pay_settings(wechat_settings, standin, version="v3")
    withdrawal_id, me = await _approved_withdrawal()
    standin.pay.hold_transfers("WAIT_USER_CONFIRM")

    waiting = await pay_withdrawal(withdrawal_id=withdrawal_id, actor=FINANCE, settings=settings)
    mine = await my_withdrawal(
        user_id=me.user_id, program_id=me.program_id, withdrawal_id=withdrawal_id
    )

    assert (waiting["status"], waiting["transfer_phase"]) == ("paying", "processing")
    confirmation = mine["confirmation"]
    assert set(confirmation) == {"mch_id", "app_id", "package"}
    assert all(confirmation.values())
    assert confirmation["app_id"] == (settings.wechat_pay_appid or settings.wechat_appid)
    assert await balances(me) == (D("30"), D("50"), D("0"))  # type: ignore[arg-type]

    standin.pay.settle(waiting["out_bill_no"], state="SUCCESS")  # the promoter accepted
    resolved = await resolve_withdrawal(withdrawal_id=withdrawal_id, settings=settings)
    after = await my_withdrawal(
        user_id=me.user_id, program_id=me.program_id, withdrawal_id=withdrawal_id
    )

    assert resolved["status"] == "paid" and "confirmation" not in after
    assert await balances(me) == (D("30"), D("0"), D("49"))  # type: ignore[arg-type]
    await assert_ledger_reconciles()
