from __future__ import annotations

from typing import Any

from server.auth import Principal
from server.config import Settings
from server.models import AuditLog, Program, Promoter, User
from server.services.access.tokens import issue_token_pair
from tests.api.conftest import Api

SHOP: dict[str, Any] = {
    "name": "Spring shop",
    "currency": "CNY",
    "max_levels": 2,
    "level_rates": ["10", "5"],
}


async def _create(api: Api, token: str, **changes: Any) -> dict[str, Any]:
    response = await api.post("/admin/v1/programs", token=token, json={**SHOP, **changes})
    assert response.status == 201, response.text
    return response.json


async def _promoter_token(settings: Settings, *, openid: str = "o-app") -> tuple[User, str]:
    user = await User.create(appid=settings.wechat_appid, openid=openid)
    pair = await issue_token_pair(
        principal=Principal(kind="user", id=user.id, roles=frozenset({"promoter"})),
        settings=settings,
    )
    return user, pair.access_token


async def test_an_admin_creates_a_program_and_gets_every_setting_back(api: Api) -> None:
    admin = await api.staff_token("admin")
    body = await _create(
        api,
        admin,
        recruitment_mode="open",
        self_rebate_enabled=True,
        self_rebate_rate="3",
        requirements={"real_name": True},
        withdrawal_rules={"minimum": "10", "fee_percent": "0.6", "methods": ["wechat", "bank"]},
        payout_schedule={"mode": "monthly", "day": 5},
        auto_approve_rules={"enabled": True, "max_line_amount": "200"},
    )
    assert body["status"] == "active"
    assert body["level_rates"] == ["10", "5"]
    assert body["self_rebate_rate"] == "3"
    assert body["requirements"] == {
        "real_name": True,
        "phone": False,
        "agreement_version": None,
    }
    assert body["withdrawal_rules"]["minimum"] == "10.00"
    assert body["withdrawal_rules"]["daily_cap"] is None
    assert body["payout_schedule"] == {"mode": "monthly", "day": 5}
    assert body["auto_approve_rules"] == {
        "enabled": True,
        "max_line_amount": "200.00",
        "require_no_open_anomaly": True,
    }
    fetched = await api.get(f"/admin/v1/programs/{body['id']}", token=admin)
    assert fetched.json["withdrawal_rules"] == body["withdrawal_rules"]


async def test_every_bad_setting_is_refused_with_422_naming_each_one(api: Api) -> None:
    admin = await api.staff_token("admin")
    response = await api.post(
        "/admin/v1/programs",
        token=admin,
        json={
            **SHOP,
            "currency": "XYZ",
            "kind": "franchise",
            "recruitment_mode": "anyone",
            "bind_mode": "random",
            "requirements": {"agreement_version": " "},
            "max_levels": 0,
            "level_rates": ["101", "0"],
            "self_rebate_rate": "100.5",
            "attribution_window_days": 4000,
            "commission_window_days": -1,
            "freeze_days": 400,
            "withdrawal_rules": {"fee_percent": "100", "daily_cap": "0", "methods": ["alipay"]},
            "payout_schedule": {"mode": "monthly", "day": 30},
            "auto_approve_rules": {"max_line_amount": "-5", "require_no_open_anomaly": False},
        },
    )
    assert response.status == 422
    assert response.json["error"]["code"] == "invalid_program_settings"
    assert set(response.json["error"]["fields"]) == {
        "currency",
        "kind",
        "recruitment_mode",
        "bind_mode",
        "requirements.agreement_version",
        "max_levels",
        "level_rates.0",
        "self_rebate_rate",
        "attribution_window_days",
        "commission_window_days",
        "freeze_days",
        "withdrawal_rules.fee_percent",
        "withdrawal_rules.daily_cap",
        "withdrawal_rules.methods",
        "payout_schedule.day",
        "auto_approve_rules.max_line_amount",
        "auto_approve_rules.require_no_open_anomaly",
    }
    assert await Program.all().count() == 0


async def test_rules_across_settings_are_refused_with_422_naming_each_one(api: Api) -> None:
    admin = await api.staff_token("admin")
    response = await api.post(
        "/admin/v1/programs",
        token=admin,
        json={
            **SHOP,
            "name": " ",
            "currency": "JPY",
            "level_rates": ["70", "40"],
            "self_rebate_enabled": True,
            "self_rebate_rate": "1",
            "withdrawal_rules": {"minimum": "100.5", "fee_fixed": "200"},
            "payout_schedule": {"mode": "threshold"},
        },
    )
    assert response.status == 422
    assert set(response.json["error"]["fields"]) == {
        "name",
        "level_rates",
        "self_rebate_rate",
        "withdrawal_rules.minimum",
        "payout_schedule.threshold",
    }


async def test_a_program_that_could_pay_more_levels_than_the_law_allows_is_a_coded_422(
    api: Api,
) -> None:
    admin = await api.staff_token("admin")
    three = {"max_levels": 3, "level_rates": ["10", "5", "2"]}
    refused = await api.post("/admin/v1/programs", token=admin, json={**SHOP, **three})
    assert refused.status == 422
    assert refused.json["error"]["code"] == "commission_levels_over_cap"
    assert "MAX_COMMISSION_LEVELS" in refused.json["error"]["fields"]["max_levels"]
    assert await Program.all().count() == 0

    # The rebate takes the first place of a self purchase, so it may go with two levels.
    program = await _create(api, admin, self_rebate_enabled=True, self_rebate_rate="3")
    path = f"/admin/v1/programs/{program['id']}"
    patched = await api.patch(path, token=admin, json=three)
    assert (patched.status, patched.json["error"]["code"]) == (422, "commission_levels_over_cap")
    assert (await api.get(path, token=admin)).json["max_levels"] == 2
    rule = await api.post(
        f"{path}/commission-rules", token=admin, json={"kind": "percent", "value": "1", "level": 3}
    )
    assert (rule.status, rule.json["error"]["code"]) == (422, "commission_levels_over_cap")


async def test_unknown_fields_and_numeric_money_are_refused_by_the_schema(api: Api) -> None:
    admin = await api.staff_token("admin")
    unknown = await api.post("/admin/v1/programs", token=admin, json={**SHOP, "colour": "red"})
    assert unknown.status == 422
    assert unknown.json["error"]["fields"] == {"colour": "unknown field"}
    nested = await api.post(
        "/admin/v1/programs", token=admin, json={**SHOP, "withdrawal_rules": {"speed": 1}}
    )
    assert nested.json["error"]["fields"] == {"withdrawal_rules.speed": "unknown field"}
    floats = await api.post(
        "/admin/v1/programs", token=admin, json={**SHOP, "level_rates": [10.5, 5]}
    )
    assert floats.status == 422
    assert {"level_rates.0", "level_rates.1"} <= set(floats.json["error"]["fields"])
    missing = await api.post("/admin/v1/programs", token=admin, json={"name": "No currency"})
    assert missing.json["error"]["fields"]["currency"] == "required"


async def test_program_settings_are_for_admins_and_reads_for_the_back_office(api: Api) -> None:
    staff = await api.staff_token("staff")
    finance = await api.staff_token("finance")
    admin = await api.staff_token("admin")
    refused = await api.post("/admin/v1/programs", token=staff, json=SHOP)
    assert refused.status == 403
    assert refused.json["error"]["code"] == "role_forbidden"
    assert (await api.post("/admin/v1/programs", json=SHOP)).status == 401
    program = await _create(api, admin)
    patched = await api.patch(
        f"/admin/v1/programs/{program['id']}", token=finance, json={"freeze_days": 1}
    )
    assert patched.status == 403
    archive = await api.post(f"/admin/v1/programs/{program['id']}/archive", token=staff)
    assert archive.status == 403
    listing = await api.get("/admin/v1/programs", token=finance)
    assert listing.status == 200
    assert [p["id"] for p in listing.json["items"]] == [program["id"]]
    assert (await api.get("/admin/v1/programs")).status == 401


async def test_a_patch_merges_then_validates_the_whole_program(api: Api) -> None:
    admin = await api.staff_token("admin")
    program = await _create(api, admin, withdrawal_rules={"minimum": "5", "methods": ["bank"]})
    path = f"/admin/v1/programs/{program['id']}"
    ok = await api.patch(path, token=admin, json={"withdrawal_rules": {"daily_cap": "500"}})
    assert ok.status == 200
    assert ok.json["withdrawal_rules"]["methods"] == ["bank"]
    assert ok.json["withdrawal_rules"]["daily_cap"] == "500.00"
    bad = await api.patch(path, token=admin, json={"max_levels": 1, "name": "Renamed"})
    assert bad.status == 422
    assert "level_rates" in bad.json["error"]["fields"]
    assert (await api.get(path, token=admin)).json["name"] == "Spring shop"
    good = await api.patch(path, token=admin, json={"max_levels": 1, "level_rates": ["10"]})
    assert good.json["level_rates"] == ["10"]
    entries = await AuditLog.filter(action="program.update").order_by("id")
    assert [set(e.details["changes"]) for e in entries] == [
        {"withdrawal_rules"},
        {"max_levels", "level_rates"},
    ]


async def test_the_currency_is_locked_once_someone_joined(api: Api, settings: Settings) -> None:
    admin = await api.staff_token("admin")
    program = await _create(api, admin)
    user, _ = await _promoter_token(settings)
    await Promoter.create(program_id=program["id"], user_id=user.id, status="applied")
    response = await api.patch(
        f"/admin/v1/programs/{program['id']}",
        token=admin,
        json={"currency": "USD", "withdrawal_rules": {"methods": ["bank"]}},
    )
    assert response.status == 409
    assert response.json["error"]["code"] == "currency_locked"


async def test_an_archived_program_is_read_only_and_hidden_from_applicants(
    api: Api, settings: Settings
) -> None:
    admin = await api.staff_token("admin")
    program = await _create(api, admin, description="Sell spring things")
    _, promoter = await _promoter_token(settings)
    mp_path = f"/mp/v1/programs/{program['id']}"
    visible = await api.get(mp_path, token=promoter)
    assert visible.status == 200
    assert visible.json == {
        "id": program["id"],
        "name": "Spring shop",
        "description": "Sell spring things",
        "currency": "CNY",
        "recruitment_mode": "review",
        "requirements": program["requirements"],
        "max_levels": 2,
        "level_rates": ["10", "5"],
        "self_rebate_enabled": False,
        "self_rebate_rate": "0",
    }
    archived = await api.post(f"/admin/v1/programs/{program['id']}/archive", token=admin)
    assert archived.json["status"] == "archived"
    again = await api.post(f"/admin/v1/programs/{program['id']}/archive", token=admin)
    assert again.status == 409
    hidden = await api.get(mp_path, token=promoter)
    assert hidden.status == 404
    assert hidden.json["error"]["code"] == "program_not_found"
    frozen = await api.patch(
        f"/admin/v1/programs/{program['id']}", token=admin, json={"freeze_days": 1}
    )
    assert frozen.json["error"]["code"] == "program_archived"
    listed = await api.get("/admin/v1/programs", token=admin, params={"status": "archived"})
    assert [p["id"] for p in listed.json["items"]] == [program["id"]]


async def test_the_application_page_is_for_promoters_only(api: Api) -> None:
    admin = await api.staff_token("admin")
    program = await _create(api, admin)
    assert (await api.get(f"/mp/v1/programs/{program['id']}")).status == 401
    assert (await api.get(f"/mp/v1/programs/{program['id']}", token=admin)).status == 403


async def test_staff_manage_sites_and_promoter_grants(api: Api, settings: Settings) -> None:
    admin = await api.staff_token("admin")
    staff = await api.staff_token("staff")
    finance = await api.staff_token("finance")
    program = await _create(api, admin)
    sites_path = f"/admin/v1/programs/{program['id']}/sites"
    created = await api.post(
        sites_path, token=staff, json={"domain": "Shop.Example.com", "name": "Shop"}
    )
    assert created.status == 201
    assert created.json["domain"] == "shop.example.com"
    site_id = created.json["id"]
    duplicate = await api.post(sites_path, token=staff, json={"domain": "shop.example.com"})
    assert (duplicate.status, duplicate.json["error"]["code"]) == (409, "site_exists")
    invalid = await api.post(sites_path, token=staff, json={"domain": "not a host"})
    assert (invalid.status, invalid.json["error"]["code"]) == (422, "invalid_domain")
    assert (await api.post(sites_path, token=finance, json={"domain": "x.example.com"})).status == (
        403
    )

    user, _ = await _promoter_token(settings)
    promoter = await Promoter.create(program_id=program["id"], user_id=user.id, status="approved")
    grant_path = f"/admin/v1/promoters/{promoter.id}/sites/{site_id}"
    granted = await api.post(grant_path, token=staff)
    assert granted.status == 201
    assert granted.json["site_id"] == site_id
    revoked = await api.delete(grant_path, token=staff)
    assert revoked.status == 204
    assert (await api.delete(grant_path, token=staff)).status == 404

    other = await _create(api, admin, name="Other")
    foreign = await api.post(
        f"/admin/v1/programs/{other['id']}/sites", token=staff, json={"domain": "o.example.com"}
    )
    refused = await api.post(
        f"/admin/v1/promoters/{promoter.id}/sites/{foreign.json['id']}", token=staff
    )
    assert (refused.status, refused.json["error"]["code"]) == (422, "site_in_other_program")

    deactivated = await api.patch(f"{sites_path}/{site_id}", token=staff, json={"is_active": False})
    assert deactivated.json["is_active"] is False
    listing = await api.get(sites_path, token=finance, params={"is_active": "false"})
    assert [s["id"] for s in listing.json["items"]] == [site_id]


async def test_program_routes_are_in_the_admin_openapi_document(api: Api) -> None:
    response = await api.get("/admin/v1/openapi.json")
    assert response.status == 200
    paths = response.json["paths"]
    assert "/admin/v1/programs" in paths
    assert "/admin/v1/programs/{program_id}/sites" in paths


async def test_the_document_gives_each_route_the_exact_body_and_query_it_accepts(
    api: Api,
) -> None:
    spec = (await api.get("/admin/v1/openapi.json")).json
    listing = spec["paths"]["/admin/v1/programs"]["get"]
    query = {p["name"]: p for p in listing["parameters"] if p["in"] == "query"}
    assert set(query) == {"status", "cursor", "limit"}
    assert query["limit"]["schema"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 100,
        "default": 50,
        "title": "Limit",
    }
    assert query["status"]["description"] == "active | archived"
    assert not any(p["required"] for p in query.values())

    creating = spec["paths"]["/admin/v1/programs/{program_id}/sites"]["post"]
    body = creating["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["domain"]
    assert body["properties"]["domain"] == {
        "type": "string",
        "minLength": 1,
        "maxLength": 255,
        "title": "Domain",
    }
    assert body["additionalProperties"] is False
