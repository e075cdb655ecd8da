from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from sanic import Sanic

from server.config import Settings
from server.integrations.wechat_standin import WeChatStandIn
from server.models import AuditLog, Promoter
from server.services.payouts.gateway import use_provider
from tests.api.conftest import Api
from tests.api.test_team_api import promoter_token
from tests.ledger_checks import assert_ledger_reconciles
from tests.payment_fakes import FakeProvider
from tests.wechat_fixtures import standin_pay_settings
from tests.withdrawal_builders import balances, funded_promoter, rules_program

D = Decimal


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    fake = FakeProvider()
    with use_provider(fake):
        yield fake


def _token(settings: Settings, promoter: Promoter) -> str:
    return promoter_token(settings, promoter.user_id)  # type: ignore[attr-defined]


def _ask(amount: str, key: str = "request-0001", **extra: object) -> dict[str, object]:
    return {"amount": amount, "method": "wechat", "idempotency_key": key, **extra}


async def test_a_promoter_requests_a_withdrawal_and_a_replay_returns_it_unchanged(
    api: Api, settings: Settings
) -> None:
    program = await rules_program(fee_percent="1")
    me = await funded_promoter(program, "100.00")
    path = f"/mp/v1/programs/{program.id}/withdrawals"
    token = _token(settings, me)

    created = await api.post(path, token=token, json=_ask("50.00"))
    replayed = await api.post(path, token=token, json=_ask("50.00"))
    reused = await api.post(path, token=token, json=_ask("49.00"))

    assert created.status == 201, created.text
    assert (created.json["status"], created.json["fee"], created.json["net"]) == (
        "requested", "0.50", "49.50",
    )  # fmt: skip
    assert "openid" not in created.json["account"]
    assert (replayed.status, replayed.json["id"]) == (200, created.json["id"])
    assert (reused.status, reused.json["error"]["code"]) == (409, "idempotency_key_reused")
    assert await balances(me) == (D("50"), D("50"), D("0"))
    await assert_ledger_reconciles()


async def test_a_request_over_the_balance_or_with_unknown_fields_is_refused_with_a_code(
    api: Api, settings: Settings
) -> None:
    program = await rules_program()
    me = await funded_promoter(program, "10.00")
    path = f"/mp/v1/programs/{program.id}/withdrawals"
    token = _token(settings, me)

    over = await api.post(path, token=token, json=_ask("10.01"))
    unknown = await api.post(path, token=token, json=_ask("1.00", tip="x"))

    assert (over.status, over.json["error"]["code"]) == (409, "withdrawal_exceeds_available")
    assert (unknown.status, unknown.json["error"]["fields"]) == (422, {"tip": "unknown field"})


async def test_a_promoter_sees_only_their_own_withdrawals(api: Api, settings: Settings) -> None:
    program = await rules_program()
    me = await funded_promoter(program, "10.00")
    other = await funded_promoter(program, "10.00")
    path = f"/mp/v1/programs/{program.id}/withdrawals"
    theirs = await api.post(path, token=_token(settings, other), json=_ask("5.00"))
    mine = await api.post(path, token=_token(settings, me), json=_ask("5.00"))

    listed = await api.get(path, token=_token(settings, me))
    peek = await api.get(f"{path}/{theirs.json['id']}", token=_token(settings, me))
    own = await api.get(f"{path}/{mine.json['id']}", token=_token(settings, me))

    assert [w["id"] for w in listed.json["items"]] == [mine.json["id"]]
    assert (peek.status, peek.json["error"]["code"]) == (404, "withdrawal_not_found")
    assert own.status == 200
    [item] = own.json["items"]
    assert item["amount"] == "5.00" and item["order"]["id"] is not None


async def test_finance_approves_and_pays_and_both_apis_show_payout_to_order_lineage(
    api: Api, settings: Settings, provider: FakeProvider
) -> None:
    program = await rules_program()
    me = await funded_promoter(program, "30.00", "20.00")
    asked = await api.post(
        f"/mp/v1/programs/{program.id}/withdrawals",
        token=_token(settings, me),
        json=_ask("40.00"),
    )
    withdrawal = f"/admin/v1/withdrawals/{asked.json['id']}"
    finance = await api.staff_token("finance")
    staff = await api.staff_token("staff")

    refused = await api.post(f"{withdrawal}/approve", token=staff)
    approved = await api.post(f"{withdrawal}/approve", token=finance)
    paid = await api.post(f"{withdrawal}/pay", token=finance)
    detail = await api.get(withdrawal, token=staff)
    mine = await api.get(
        f"/mp/v1/programs/{program.id}/withdrawals/{asked.json['id']}", token=_token(settings, me)
    )

    assert (refused.status, refused.json["error"]["code"]) == (403, "role_forbidden")
    assert approved.json["status"] == "approved"
    assert paid.status == 200, paid.text
    assert paid.json["status"] == "paid"
    assert len(provider.transfers) == 1
    lineage = [(i["amount"], i["commission"]["status"]) for i in detail.json["items"]]
    assert lineage == [("30.00", "paid"), ("10.00", "settled")]
    assert all(i["order"]["external_id"] for i in detail.json["items"])
    assert [i["order"]["id"] for i in mine.json["items"]] == [
        i["order"]["id"] for i in detail.json["items"]
    ]
    assert [h["action"] for h in detail.json["history"]] == ["request", "approve", "pay", "succeed"]
    listed = await api.get(
        "/admin/v1/withdrawals", token=staff, params={"program_id": program.id, "status": "paid"}
    )
    assert [w["id"] for w in listed.json["items"]] == [asked.json["id"]]
    await assert_ledger_reconciles()


async def test_finance_rejects_with_a_reason_and_marks_a_bank_withdrawal_paid(
    api: Api, settings: Settings
) -> None:
    program = await rules_program()
    me = await funded_promoter(program, "100.00")
    path = f"/mp/v1/programs/{program.id}/withdrawals"
    token = _token(settings, me)
    first = await api.post(path, token=token, json=_ask("30.00", key="request-0001"))
    bank = {"bank_name": "ICBC", "account_name": "Li Lei", "account_number": "6222021234567890"}
    second = await api.post(
        path,
        token=token,
        json={
            "amount": "40.00",
            "method": "bank",
            "idempotency_key": "request-0002",
            "bank_account": bank,
        },
    )
    finance = await api.staff_token("finance")

    no_reason = await api.post(f"/admin/v1/withdrawals/{first.json['id']}/reject", token=finance)
    rejected = await api.post(
        f"/admin/v1/withdrawals/{first.json['id']}/reject",
        token=finance,
        json={"reason": "suspicious activity"},
    )
    await api.post(f"/admin/v1/withdrawals/{second.json['id']}/approve", token=finance)
    marked = await api.post(
        f"/admin/v1/withdrawals/{second.json['id']}/mark-paid",
        token=finance,
        json={"reference": "ICBC-TX-778"},
    )
    finance_view = await api.get(f"/admin/v1/withdrawals/{second.json['id']}", token=finance)
    staff_view = await api.get(
        f"/admin/v1/withdrawals/{second.json['id']}", token=await api.staff_token("staff")
    )

    assert no_reason.status == 400
    assert (rejected.json["status"], rejected.json["reject_reason"]) == (
        "rejected", "suspicious activity",
    )  # fmt: skip
    assert (marked.json["status"], marked.json["offline_reference"]) == ("paid", "ICBC-TX-778")
    assert second.json["account"]["account_number"] == "************7890"
    assert finance_view.json["account"]["account_number"] == "6222021234567890"
    assert staff_view.json["account"]["account_number"] == "************7890"
    revealed = await AuditLog.filter(action="withdrawal.account_number_revealed")
    assert [(entry.actor_kind, entry.target_id) for entry in revealed] == [
        ("staff", second.json["id"])
    ]
    assert await balances(me) == (D("60"), D("0"), D("40"))
    await assert_ledger_reconciles()


async def test_finance_creates_a_payout_batch_by_hand_and_pays_it(
    api: Api, settings: Settings, provider: FakeProvider
) -> None:
    program = await rules_program(minimum="10.00")
    rich = await funded_promoter(program, "25.00")
    poor = await funded_promoter(program, "9.99")
    finance = await api.staff_token("finance")

    created = await api.post(
        "/admin/v1/payouts/batches", token=finance, json={"program_id": program.id}
    )
    batch = created.json
    paid = await api.post(f"/admin/v1/payouts/batches/{batch['id']}/pay", token=finance)
    detail = await api.get(f"/admin/v1/payouts/batches/{batch['id']}", token=finance)
    listed = await api.get("/admin/v1/payouts/batches", token=finance)

    assert created.status == 201, created.text
    assert [(w["promoter_id"], w["amount"], w["status"]) for w in batch["withdrawals"]] == [
        (rich.id, "25.00", "approved")
    ]
    assert paid.json["by_status"] == {"paid": 1}
    assert detail.json["by_status"] == {"paid": 1}
    assert detail.json["withdrawals"][0]["items"][0]["order"]["id"] is not None
    assert [b["id"] for b in listed.json["items"]] == [batch["id"]]
    assert await balances(poor) == (D("9.99"), D("0"), D("0"))
    await assert_ledger_reconciles()


async def test_paying_over_http_goes_through_the_configured_wechat_pay_v3_adapter(
    api: Api, app: Sanic, api_settings: Settings, standin: WeChatStandIn
) -> None:
    app.ctx.settings = standin_pay_settings(api_settings, standin, version="v3")
    program = await rules_program()
    me = await funded_promoter(program, "20.00")
    asked = await api.post(
        f"/mp/v1/programs/{program.id}/withdrawals",
        token=_token(api_settings, me),
        json=_ask("20.00"),
    )
    finance = await api.staff_token("finance")
    await api.post(f"/admin/v1/withdrawals/{asked.json['id']}/approve", token=finance)

    paid = await api.post(f"/admin/v1/withdrawals/{asked.json['id']}/pay", token=finance)

    assert paid.status == 200, paid.text
    assert (paid.json["status"], paid.json["provider"]) == ("paid", "wechat_v3")
    assert int(standin.transfers[paid.json["out_bill_no"]].amount_fen) == 2000
    await assert_ledger_reconciles()
