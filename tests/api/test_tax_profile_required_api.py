"""A program that requires the tax profile refuses a withdrawal without the promoter's legal
name and tax id (422 tax_profile_required, nothing written), lists it as an action item until
both are given, and then takes the same request with the same idempotency key."""

from __future__ import annotations

from decimal import Decimal

from server.config import Settings
from server.models import IdempotencyRecord, LedgerEntry, Program, PromoterBalance, Withdrawal
from tests.api.conftest import Api
from tests.api.test_team_api import promoter_token
from tests.withdrawal_builders import funded_promoter

SHOP = {"name": "Filed shop", "currency": "CNY", "max_levels": 2, "level_rates": ["10", "5"]}
ASK = {"amount": "30.00", "method": "offline", "idempotency_key": "taxprofile-0001"}


async def _program(api: Api, admin: str, **rules: object) -> int:
    created = await api.post("/admin/v1/programs", token=admin, json=SHOP)
    assert created.status == 201, created.text
    changed = await api.patch(
        f"/admin/v1/programs/{created.json['id']}",
        token=admin,
        json={"withdrawal_rules": {"methods": ["offline"], **rules}},
    )
    assert changed.status == 200, changed.text
    return created.json["id"]


async def test_the_setting_defaults_to_off_and_staff_turn_it_on(api: Api) -> None:
    admin = await api.staff_token("admin")
    program_id = await _program(api, admin)
    path = f"/admin/v1/programs/{program_id}"

    before = await api.get(path, token=admin)
    turned = await api.patch(
        path, token=admin, json={"withdrawal_rules": {"require_tax_profile": True}}
    )
    junk = await api.patch(
        path, token=admin, json={"withdrawal_rules": {"require_tax_profile": "yes"}}
    )

    assert before.json["withdrawal_rules"]["require_tax_profile"] is False
    assert turned.json["withdrawal_rules"]["require_tax_profile"] is True
    assert junk.status == 422
    assert "withdrawal_rules.require_tax_profile" in str(junk.json["error"]["fields"])


async def test_a_withdrawal_waits_for_the_tax_profile_then_the_same_key_goes_through(
    api: Api, settings: Settings
) -> None:
    admin = await api.staff_token("admin")
    program_id = await _program(api, admin, require_tax_profile=True)
    me = await funded_promoter(await Program.get(id=program_id), "100.00")
    token = promoter_token(settings, me.user_id)  # type: ignore[attr-defined]
    asks = f"/mp/v1/programs/{program_id}/withdrawals"
    entries = await LedgerEntry.filter(promoter_id=me.id).count()

    refused = await api.post(asks, token=token, json=ASK)
    items = await api.get(f"/mp/v1/programs/{program_id}/action-items", token=token)

    assert refused.status == 422, refused.text
    assert refused.json["error"]["code"] == "tax_profile_required"
    assert refused.json["error"]["fields"] == {
        "legal_name": "required before a withdrawal",
        "tax_id": "required before a withdrawal",
    }
    assert await Withdrawal.filter(promoter_id=me.id).count() == 0
    assert await IdempotencyRecord.filter(key=ASK["idempotency_key"]).count() == 0
    assert await LedgerEntry.filter(promoter_id=me.id).count() == entries
    assert (await PromoterBalance.get(promoter_id=me.id)).available == Decimal("100.00")
    tax_items = [i for i in items.json["items"] if i["code"] == "add_tax_profile"]
    assert tax_items[0]["params"] == {"missing": ["legal_name", "tax_id"]}

    profile = f"/mp/v1/programs/{program_id}/tax-profile"
    await api.put(profile, token=token, json={"legal_name": "王小明"})
    half = await api.post(asks, token=token, json=ASK)
    assert half.status == 422
    assert half.json["error"]["fields"] == {"tax_id": "required before a withdrawal"}
    saved = await api.put(
        profile, token=token, json={"legal_name": "王小明", "tax_id": "110101199003070000"}
    )
    assert saved.status == 200, saved.text

    created = await api.post(asks, token=token, json=ASK)
    replayed = await api.post(asks, token=token, json=ASK)
    items = await api.get(f"/mp/v1/programs/{program_id}/action-items", token=token)

    assert created.status == 201, created.text
    assert replayed.status == 200, replayed.text
    assert replayed.json["id"] == created.json["id"]
    assert await Withdrawal.filter(promoter_id=me.id).count() == 1
    assert "add_tax_profile" not in [i["code"] for i in items.json["items"]]


async def test_without_the_setting_a_withholding_program_takes_a_withdrawal_without_it(
    api: Api, settings: Settings
) -> None:
    admin = await api.staff_token("admin")
    program_id = await _program(api, admin, tax_withholding_percent="20")
    me = await funded_promoter(await Program.get(id=program_id), "100.00")
    token = promoter_token(settings, me.user_id)  # type: ignore[attr-defined]

    asked = await api.post(f"/mp/v1/programs/{program_id}/withdrawals", token=token, json=ASK)
    items = await api.get(f"/mp/v1/programs/{program_id}/action-items", token=token)

    assert asked.status == 201, asked.text
    assert "add_tax_profile" not in [i["code"] for i in items.json["items"]]
