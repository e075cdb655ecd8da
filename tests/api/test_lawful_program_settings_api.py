"""Settings that cannot work are refused when saved, each with its own code: an entry fee
(《禁止传销条例》第七条 forbids it) and WeChat withdrawals outside CNY; applicants are never
told of a deposit."""

from __future__ import annotations

from typing import Any

from server.config import Settings
from server.models import AuditLog, Program
from tests.api.conftest import Api
from tests.api.test_team_api import promoter_token
from tests.withdrawal_builders import funded_promoter, rules_program

SHOP: dict[str, Any] = {
    "name": "Spring shop",
    "currency": "CNY",
    "max_levels": 2,
    "level_rates": ["10", "5"],
}


async def test_a_program_asking_applicants_for_a_deposit_is_refused(api: Api) -> None:
    admin = await api.staff_token("admin")

    created = await api.post(
        "/admin/v1/programs", token=admin, json={**SHOP, "requirements": {"deposit": "99"}}
    )
    program = await api.post(
        "/admin/v1/programs", token=admin, json={**SHOP, "requirements": {"deposit": "0"}}
    )
    patched = await api.patch(
        f"/admin/v1/programs/{program.json['id']}",
        token=admin,
        json={"requirements": {"real_name": True, "deposit": "20.00"}},
    )

    assert (created.status, created.json["error"]["code"]) == (422, "entry_fee_forbidden")
    assert set(created.json["error"]["fields"]) == {"requirements.deposit"}
    assert (patched.status, patched.json["error"]["code"]) == (422, "entry_fee_forbidden")
    assert program.status == 201, program.text
    assert program.json["requirements"] == {
        "real_name": False,
        "phone": False,
        "agreement_version": None,
    }
    assert await Program.all().count() == 1
    assert not await AuditLog.filter(action="program.update").exists()


async def test_an_applicant_sees_the_requirements_and_no_deposit(
    api: Api, settings: Settings
) -> None:
    admin = await api.staff_token("admin")
    created = await api.post(
        "/admin/v1/programs", token=admin, json={**SHOP, "requirements": {"phone": True}}
    )
    applicant = await funded_promoter(await Program.get(id=created.json["id"]))

    shown = await api.get(
        f"/mp/v1/programs/{created.json['id']}",
        token=promoter_token(settings, applicant.user_id),  # type: ignore[attr-defined]
    )

    assert shown.status == 200, shown.text
    assert shown.json["requirements"] == {
        "real_name": False,
        "phone": True,
        "agreement_version": None,
    }
    assert "deposit" not in shown.text


async def test_wechat_withdrawals_are_refused_in_a_program_not_paying_in_cny(api: Api) -> None:
    admin = await api.staff_token("admin")
    yen = {**SHOP, "currency": "JPY"}

    refused = await api.post(
        "/admin/v1/programs", token=admin, json={**yen, "withdrawal_rules": {"methods": ["wechat"]}}
    )
    offline = await api.post("/admin/v1/programs", token=admin, json=yen)
    switched = await api.patch(
        f"/admin/v1/programs/{offline.json['id']}",
        token=admin,
        json={"withdrawal_rules": {"methods": ["bank", "wechat"]}},
    )

    assert (refused.status, refused.json["error"]["code"]) == (422, "wechat_requires_cny")
    assert set(refused.json["error"]["fields"]) == {"withdrawal_rules.methods"}
    assert offline.status == 201, offline.text
    assert offline.json["withdrawal_rules"]["methods"] == ["offline"]
    assert (switched.status, switched.json["error"]["code"]) == (422, "wechat_requires_cny")


async def test_a_wechat_withdrawal_in_yen_is_refused_even_where_old_settings_allow_it(
    api: Api, settings: Settings
) -> None:
    program = await rules_program(currency="JPY", minimum="100")  # stored before the rule
    me = await funded_promoter(program, "1000")

    asked = await api.post(
        f"/mp/v1/programs/{program.id}/withdrawals",
        token=promoter_token(settings, me.user_id),  # type: ignore[attr-defined]
        json={"amount": "500", "method": "wechat", "idempotency_key": "yen-0001"},
    )

    assert (asked.status, asked.json["error"]["code"]) == (422, "wechat_requires_cny")
