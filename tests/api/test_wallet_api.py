from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from tortoise.transactions import in_transaction

from server import clock
from server.config import Settings
from server.models import Program, Promoter, PromoterBalance
from server.services.commissions.settlement import settle_due_commissions
from server.services.ledger.postings import post_movement
from tests.api.conftest import Api
from tests.api.test_team_api import promoter_token
from tests.ledger_checks import assert_ledger_reconciles, make_commission
from tests.service.promoters.test_hierarchy import new_program, new_promoter


async def _hold(promoter: Promoter, amount: str, reference: str) -> None:
    async with in_transaction() as conn:
        await post_movement(
            conn=conn,
            promoter_id=promoter.id,
            program_id=promoter.program_id,  # type: ignore[attr-defined]
            currency="CNY",
            kind="hold",
            postings=[("available", -Decimal(amount)), ("on_hold", Decimal(amount))],
            reference=reference,
        )


async def _earning(program: Program) -> tuple[Promoter, Promoter]:
    """Two promoters of `program` with settled and pending commissions each."""
    me, other = await new_promoter(program), await new_promoter(program)
    for promoter, settled, pending in ((me, "30.00", "4.50"), (other, "99.00", "1.00")):
        await make_commission(program, promoter, amount=settled)
        await make_commission(program, promoter, amount=pending, status="pending")
    await settle_due_commissions(now=clock.now())
    return me, other


async def test_a_promoter_sees_their_own_balances_as_amount_strings(
    api: Api, settings: Settings
) -> None:
    program = await new_program()
    me, _ = await _earning(program)
    await _hold(me, "10.00", "w:1:hold")

    response = await api.get(
        f"/mp/v1/programs/{program.id}/wallet",
        token=promoter_token(settings, me.user_id),  # type: ignore[attr-defined]
    )

    assert response.status == 200, response.text
    assert response.json == {
        "promoter_id": me.id,
        "program_id": program.id,
        "currency": "CNY",
        "pending": "4.50",
        "available": "20.00",
        "on_hold": "10.00",
        "paid": "0.00",
        "carried_forward": "0.00",
    }
    await assert_ledger_reconciles()


async def test_the_ledger_lists_only_the_callers_entries_newest_first_with_paging(
    api: Api, settings: Settings
) -> None:
    program = await new_program()
    me, other = await _earning(program)
    await _hold(me, "10.00", "w:1:hold")
    token = promoter_token(settings, me.user_id)  # type: ignore[attr-defined]
    base = f"/mp/v1/programs/{program.id}/wallet/ledger"

    first = await api.get(base, token=token, params={"limit": 2})
    assert first.status == 200, first.text
    assert [(e["kind"], e["account"], e["amount"]) for e in first.json["items"]] == [
        ("hold", "on_hold", "10.00"), ("hold", "available", "-10.00")
    ]  # fmt: skip
    rest = await api.get(base, token=token, params={"cursor": first.json["next_cursor"]})
    assert [(e["kind"], e["amount"], e["balance_after"]) for e in rest.json["items"]] == [
        ("settle", "30.00", "30.00")
    ]
    assert rest.json["next_cursor"] is None
    settles = await api.get(base, token=token, params={"kind": "settle"})
    assert [e["kind"] for e in settles.json["items"]] == ["settle"]
    every_id = {e["id"] for page in (first, rest) for e in page.json["items"]}
    theirs = await api.get(
        f"/admin/v1/promoters/{other.id}/ledger", token=await api.staff_token("staff")
    )
    assert every_id.isdisjoint({e["id"] for e in theirs.json["items"]})


async def test_the_ledger_filters_by_time(api: Api, settings: Settings) -> None:
    program = await new_program()
    me, _ = await _earning(program)
    token = promoter_token(settings, me.user_id)  # type: ignore[attr-defined]
    base = f"/mp/v1/programs/{program.id}/wallet/ledger"
    future = (clock.now() + timedelta(days=1)).isoformat()
    later = await api.get(base, token=token, params={"created_from": future})
    earlier = await api.get(base, token=token, params={"created_to": future})
    assert (later.json["items"], len(earlier.json["items"])) == ([], 1)


async def test_a_promoter_cannot_read_a_wallet_in_a_program_they_are_not_in(
    api: Api, settings: Settings
) -> None:
    mine, theirs = await new_program("mine"), await new_program("theirs")
    me, _ = await _earning(mine)
    await _earning(theirs)
    token = promoter_token(settings, me.user_id)  # type: ignore[attr-defined]
    base = f"/mp/v1/programs/{theirs.id}/wallet"
    for path in (base, f"{base}/ledger"):
        response = await api.get(path, token=token)
        assert (response.status, response.json["error"]["code"]) == (404, "promoter_not_found")


async def test_an_unknown_kind_filter_is_refused(api: Api, settings: Settings) -> None:
    program = await new_program()
    me, _ = await _earning(program)
    response = await api.get(
        f"/mp/v1/programs/{program.id}/wallet/ledger",
        token=promoter_token(settings, me.user_id),  # type: ignore[attr-defined]
        params={"kind": "mystery"},
    )
    assert (response.status, response.json["error"]["code"]) == (422, "invalid_query")


async def test_back_office_reads_any_promoters_balances_and_ledger(api: Api) -> None:
    program = await new_program()
    me, _ = await _earning(program)
    token = await api.staff_token("finance")
    balances = await api.get(f"/admin/v1/promoters/{me.id}/balances", token=token)
    assert balances.status == 200, balances.text
    assert (balances.json["available"], balances.json["pending"]) == ("30.00", "4.50")
    ledger = await api.get(
        f"/admin/v1/promoters/{me.id}/ledger", token=token, params={"account": "available"}
    )
    assert [e["reference"] for e in ledger.json["items"]] == [ledger.json["items"][0]["reference"]]
    assert ledger.json["items"][0]["reference"].endswith(":settle")
    missing = await api.get("/admin/v1/promoters/999999/balances", token=token)
    assert (missing.status, missing.json["error"]["code"]) == (404, "promoter_not_found")


async def test_finance_reconciles_on_demand_and_sees_drift(api: Api) -> None:
    program = await new_program()
    me, other = await _earning(program)
    token = await api.staff_token("finance")
    clean = await api.get("/admin/v1/ledger/reconcile", token=token)
    assert clean.status == 200, clean.text
    assert (clean.json["balanced"], clean.json["drift_count"]) == (True, 0)
    assert clean.json["accounts_checked"] == 6

    await PromoterBalance.filter(promoter_id=other.id).update(paid=Decimal("5.00"))
    drifted = await api.get("/admin/v1/ledger/reconcile", token=token)
    assert drifted.json["drift_count"] == 1
    assert drifted.json["drifts"][0] == {
        "promoter_id": other.id,
        "currency": "CNY",
        "account": "paid",
        "entries_sum": "0.00",
        "last_balance_after": "0.00",
        "cached": "5.00",
    }
    one = await api.get("/admin/v1/ledger/reconcile", token=token, params={"promoter_id": me.id})
    assert one.json["balanced"] is True
    staff = await api.get("/admin/v1/ledger/reconcile", token=await api.staff_token("staff"))
    assert staff.status == 403
