"""Fraud holds over HTTP: staff and admin hold and lift a promoter (with a reason, audited),
finance reads; the promoter's detail shows the hold; the program chooses the hold scope."""

from __future__ import annotations

from typing import Any

from server.models import AuditLog
from tests.api.conftest import Api
from tests.service.promoters.test_hierarchy import new_program, new_promoter

SHOP: dict[str, Any] = {"name": "Shop", "currency": "CNY", "max_levels": 1, "level_rates": ["10"]}


def hold_url(promoter_id: int) -> str:
    return f"/admin/v1/promoters/{promoter_id}/hold"


async def test_staff_hold_and_admin_lift_a_promoter_while_finance_only_reads(api: Api) -> None:
    me = await new_promoter(await new_program())
    staff, admin, finance = (
        await api.staff_token("staff"),
        await api.staff_token("admin"),
        await api.staff_token("finance"),
    )

    by_finance = await api.post(hold_url(me.id), token=finance, json={"reason": "suspicious"})
    held = await api.post(hold_url(me.id), token=staff, json={"reason": "suspicious"})
    again = await api.post(hold_url(me.id), token=admin, json={"reason": "again"})
    read = await api.get(hold_url(me.id), token=finance)
    detail = await api.get(f"/admin/v1/promoters/{me.id}", token=finance)
    lift_by_finance = await api.post(
        f"{hold_url(me.id)}/lift", token=finance, json={"reason": "fine"}
    )
    lifted = await api.post(f"{hold_url(me.id)}/lift", token=admin, json={"reason": "fine"})

    assert (by_finance.status, by_finance.json["error"]["code"]) == (403, "role_forbidden")
    assert held.status == 201, held.text
    assert (held.json["on_hold"], held.json["manual_holds"][0]["reason"]) == (True, "suspicious")
    assert (again.status, again.json["error"]["code"]) == (409, "promoter_already_held")
    assert read.status == 200 and read.json["on_hold"] is True
    assert detail.json["fraud_hold"]["manual_hold_in_force"] is True
    assert detail.json["fraud_hold"]["fraud_hold_scope"] == "promoter"
    assert lift_by_finance.status == 403
    assert lifted.status == 200, lifted.text
    assert lifted.json["on_hold"] is False
    actions = await AuditLog.filter(target_kind="promoter", target_id=me.id).order_by("id")
    assert [(a.action, a.details["reason"]) for a in actions] == [
        ("promoter.hold", "suspicious"),
        ("promoter.lift_hold", "fine"),
    ]
    assert actions[0].actor_id != actions[1].actor_id  # staff held, admin lifted


async def test_a_hold_needs_a_reason_and_a_promoter_that_exists(api: Api) -> None:
    me = await new_promoter(await new_program())
    staff = await api.staff_token("staff")

    blank = await api.post(hold_url(me.id), token=staff, json={"reason": "   "})
    missing = await api.post(hold_url(me.id), token=staff, json={})
    nobody = await api.post(hold_url(999999), token=staff, json={"reason": "x"})
    not_held = await api.post(f"{hold_url(me.id)}/lift", token=staff, json={"reason": "x"})

    assert (blank.status, list(blank.json["error"]["fields"])) == (422, ["reason"])
    assert (missing.status, list(missing.json["error"]["fields"])) == (422, ["reason"])
    assert (nobody.status, nobody.json["error"]["code"]) == (404, "promoter_not_found")
    assert (not_held.status, not_held.json["error"]["code"]) == (409, "promoter_not_held")


async def test_the_hold_scope_is_a_program_setting_that_defaults_to_the_promoter(
    api: Api,
) -> None:
    admin = await api.staff_token("admin")

    created = await api.post("/admin/v1/programs", token=admin, json=SHOP)
    url = f"/admin/v1/programs/{created.json['id']}"
    narrowed = await api.patch(url, token=admin, json={"fraud_hold_scope": "anomaly_commissions"})
    wrong = await api.patch(url, token=admin, json={"fraud_hold_scope": "nobody"})

    assert created.json["fraud_hold_scope"] == "promoter"
    assert narrowed.status == 200, narrowed.text
    assert narrowed.json["fraud_hold_scope"] == "anomaly_commissions"
    assert wrong.status == 422
    assert wrong.json["error"]["code"] == "invalid_program_settings"
    assert "fraud_hold_scope" in wrong.json["error"]["fields"]
