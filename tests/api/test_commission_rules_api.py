"""Commission rules, period caps and the dry run over HTTP: roles, checks, audit, no writes."""

from __future__ import annotations

from tortoise import Tortoise

from server.config import Settings
from server.models import AuditLog, CommissionRuleRecord
from tests.api.conftest import Api
from tests.api.test_team_api import promoter_token
from tests.service.commissions.test_commission_preview import member, set_status, shop

PLACED_AT = "2024-05-10T12:00:00+00:00"


async def test_staff_add_a_rule_that_back_office_can_read_and_others_cannot_write(
    api: Api, settings: Settings
) -> None:
    program = await shop()
    staff = await api.staff_token("staff")
    finance = await api.staff_token("finance")
    base = f"/admin/v1/programs/{program.id}/commission-rules"
    body = {
        "name": "Boots week",
        "kind": "percent",
        "value": "20",
        "level": 1,
        "product_id": "BOOT",
        "valid_from": "2024-06-01T00:00:00+08:00",
    }
    refused = await api.post(base, token=finance, json=body)
    assert (refused.status, refused.json["error"]["code"]) == (403, "role_forbidden")
    seller = await member(program)
    as_promoter = await api.post(base, token=promoter_token(settings, seller.user_id), json=body)  # type: ignore[attr-defined]
    assert as_promoter.status == 403
    created = await api.post(base, token=staff, json=body)
    assert created.status == 201, created.text
    rule = created.json
    assert {
        k: rule[k]
        for k in (
            "program_id",
            "currency",
            "kind",
            "value",
            "level",
            "product_id",
            "valid_from",
            "enabled",
            "priority",
        )
    } == {
        "program_id": program.id,
        "currency": "CNY",
        "kind": "percent",
        "value": "20",
        "level": 1,
        "product_id": "BOOT",
        "valid_from": "2024-05-31T16:00:00+00:00",
        "enabled": True,
        "priority": 0,
    }
    listed = await api.get(base, token=finance)
    assert [item["id"] for item in listed.json["items"]] == [rule["id"]]
    one = await api.get(f"/admin/v1/commission-rules/{rule['id']}", token=finance)
    assert one.json["name"] == "Boots week"
    assert await AuditLog.filter(action="commission_rule.create", target_id=rule["id"]).exists()


async def test_a_broken_rule_is_refused_with_every_field_named(api: Api) -> None:
    program = await shop()
    staff = await api.staff_token("staff")
    base = f"/admin/v1/programs/{program.id}/commission-rules"
    bad = await api.post(
        base,
        token=staff,
        json={
            "kind": "percent",
            "value": "150",
            "site_id": 999999,
            "valid_from": "2024-06-02T00:00:00Z",
            "valid_to": "2024-06-01T00:00:00Z",
            "tier": "t" * 65,
        },
    )
    assert bad.status == 422
    assert bad.json["error"]["code"] == "invalid_commission_rule"
    assert set(bad.json["error"]["fields"]) == {"value", "site_id", "valid_to", "tier"}
    number = await api.post(base, token=staff, json={"kind": "fixed", "value": 5})
    assert (number.status, number.json["error"]["code"]) == (422, "validation_failed")
    naive = await api.post(
        base,
        token=staff,
        json={"kind": "percent", "value": "5", "valid_from": "2024-06-01T00:00:00"},
    )
    assert naive.json["error"]["fields"] == {"valid_from": "must carry a time zone"}
    unknown = await api.post(
        "/admin/v1/programs/999999/commission-rules",
        token=staff,
        json={"kind": "percent", "value": "5"},
    )
    assert unknown.status == 404
    assert await CommissionRuleRecord.all().count() == 0


async def test_rules_are_patched_disabled_and_enabled_again_with_the_overpay_guard(
    api: Api,
) -> None:
    program = await shop()  # L1 10%, L2 5%
    staff = await api.staff_token("staff")
    created = await api.post(
        f"/admin/v1/programs/{program.id}/commission-rules",
        token=staff,
        json={"kind": "percent", "value": "30", "level": 2},
    )
    path = f"/admin/v1/commission-rules/{created.json['id']}"
    too_much = await api.patch(path, token=staff, json={"value": "91"})
    assert too_much.status == 422
    assert too_much.json["error"]["code"] == "rule_set_overpays"
    assert too_much.json["error"]["fields"]["example"]["total_percent"] == "101"
    patched = await api.patch(path, token=staff, json={"value": "90", "campaign": "618"})
    assert (patched.status, patched.json["value"], patched.json["campaign"]) == (200, "90", "618")
    disabled = await api.post(path + "/disable", token=staff)
    assert disabled.json["enabled"] is False
    enabled = await api.post(path + "/enable", token=staff)
    assert enabled.json["enabled"] is True
    missing = await api.patch("/admin/v1/commission-rules/999999", token=staff, json={})
    assert (missing.status, missing.json["error"]["code"]) == (404, "commission_rule_not_found")
    actions = (
        await AuditLog.filter(target_kind="commission_rule")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == [
        "commission_rule.create",
        "commission_rule.update",
        "commission_rule.disable",
        "commission_rule.enable",
    ]


async def test_period_caps_are_managed_by_staff(api: Api) -> None:
    program = await shop(currency="JPY")
    staff, finance = await api.staff_token("staff"), await api.staff_token("finance")
    base = f"/admin/v1/programs/{program.id}/period-caps"
    fractional = await api.post(base, token=staff, json={"period": "day", "amount": "10.5"})
    assert (fractional.status, fractional.json["error"]["code"]) == (422, "invalid_period_cap")
    created = await api.post(
        base, token=staff, json={"period": "month", "amount": "50000", "tier": "gold"}
    )
    assert created.status == 201, created.text
    assert (created.json["amount"], created.json["tier"]) == ("50000", "gold")
    path = f"/admin/v1/period-caps/{created.json['id']}"
    assert (await api.patch(path, token=finance, json={"amount": "1"})).status == 403
    patched = await api.patch(path, token=staff, json={"tier": None})
    assert patched.json["tier"] is None
    assert (await api.post(path + "/disable", token=staff)).json["enabled"] is False
    listed = await api.get(base, token=finance, params={"enabled": "false"})
    assert [cap["id"] for cap in listed.json["items"]] == [created.json["id"]]


async def _row_counts() -> dict[str, int]:
    return {m._meta.db_table: await m.all().count() for m in Tortoise.apps["models"].values()}


async def test_the_dry_run_explains_each_line_and_writes_nothing(
    api: Api, three_paid_levels: None
) -> None:
    program = await shop(max_levels=3, level_rates=["10", "5", "2"])
    top = await member(program)
    middle = await member(program, top)
    seller = await member(program, middle)
    await set_status(middle, "suspended")
    staff = await api.staff_token("staff")
    await api.post(
        f"/admin/v1/programs/{program.id}/commission-rules",
        token=staff,
        json={
            "kind": "fixed",
            "value": "3.00",
            "product_id": "MUG",
            "level": 1,
            "cap_per_line": "5.00",
        },
    )
    finance = await api.staff_token("finance")
    before = await _row_counts()
    response = await api.post(
        f"/admin/v1/programs/{program.id}/commissions/preview",
        token=finance,
        json={
            "lines": [
                {"product_id": "MUG", "quantity": 3, "unit_price": "20.00", "amount": "54.00"}
            ],
            "placed_at": PLACED_AT,
            "attributed_promoter_id": seller.id,
            "bound_at": "2024-05-01T00:00:00+00:00",
        },
    )
    assert response.status == 200, response.text
    assert await _row_counts() == before
    report = response.json
    first, third = report["lines"]
    assert (
        first["beneficiary"]["level"],
        first["rule"]["kind"],
        first["exact"],
        first["capped_by"],
        first["amount"],
    ) == (1, "fixed", "9", "line_cap", "5.00")
    assert first["formula"] == "3 per unit × 3 × 54.00 / 54.00"
    assert (third["beneficiary"]["level"], third["rule"]["source"], third["amount"]) == (
        3,
        "program_level",
        "1.08",
    )
    assert report["skipped"] == [
        {"level": 2, "promoter_id": middle.id, "reason": "beneficiary_not_approved"}
    ]
    assert report["chain"]["kind"] == "referred"


async def test_the_dry_run_refuses_an_order_the_engine_cannot_compute(api: Api) -> None:
    program = await shop()
    staff = await api.staff_token("staff")
    path = f"/admin/v1/programs/{program.id}/commissions/preview"
    wrong_currency = await api.post(
        path,
        token=staff,
        json={
            "currency": "USD",
            "lines": [{"product_id": "P", "quantity": 1, "unit_price": "1.00", "amount": "1.00"}],
        },
    )
    assert (wrong_currency.status, wrong_currency.json["error"]["code"]) == (
        422,
        "currency_mismatch",
    )
    too_much = await api.post(
        path,
        token=staff,
        json={"lines": [{"product_id": "P", "quantity": 1, "unit_price": "1.00", "amount": "abc"}]},
    )
    assert too_much.json["error"] == {
        "code": "invalid_order_line",
        "message": "invalid order line",
        "fields": {"lines.0.amount": "not a decimal"},
    }
    stranger = await api.post(
        path,
        token=staff,
        json={
            "buyer_promoter_id": 999999,
            "lines": [{"product_id": "P", "quantity": 1, "unit_price": "1.00", "amount": "1.00"}],
        },
    )
    assert stranger.json["error"]["code"] == "promoter_not_in_program"
