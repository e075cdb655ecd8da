"""Admins set a program's time zone and its link-versus-coupon policy through the admin API."""

from __future__ import annotations

from tests.api.conftest import Api

SHOP = {"name": "Zoned shop", "currency": "USD", "max_levels": 1, "level_rates": ["10"]}


async def test_a_program_starts_in_shanghai_with_the_coupon_winning_and_both_can_change(
    api: Api,
) -> None:
    admin = await api.staff_token("admin", username="zone_admin")
    created = await api.post("/admin/v1/programs", token=admin, json=SHOP)
    assert created.status == 201, created.text
    assert (created.json["time_zone"], created.json["attribution_conflict_policy"]) == (
        "Asia/Shanghai",
        "coupon_wins",
    )

    changed = await api.patch(
        f"/admin/v1/programs/{created.json['id']}",
        token=admin,
        json={"time_zone": "America/New_York", "attribution_conflict_policy": "binding_wins"},
    )
    assert changed.status == 200, changed.text
    assert (changed.json["time_zone"], changed.json["attribution_conflict_policy"]) == (
        "America/New_York",
        "binding_wins",
    )


async def test_an_unknown_zone_or_policy_is_refused_naming_both_fields(api: Api) -> None:
    admin = await api.staff_token("admin", username="zone_admin_2")
    refused = await api.post(
        "/admin/v1/programs",
        token=admin,
        json={**SHOP, "time_zone": "Mars/Olympus_Mons", "attribution_conflict_policy": "split"},
    )
    assert refused.status == 422
    assert refused.json["error"]["code"] == "invalid_program_settings"
    assert set(refused.json["error"]["fields"]) == {"time_zone", "attribution_conflict_policy"}
