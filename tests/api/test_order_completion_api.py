"""Staff complete an order the store never reported completed; programs set auto-completion."""

from __future__ import annotations

from typing import Any

from server.models import AuditLog, Program
from tests.api.conftest import Api
from tests.order_builders import cancelled, paid
from tests.s2s_client import s2s_post

EVENTS = "/admin/v1/s2s/events"


async def _order(api: Api, store: dict[str, Any], external_id: str) -> int:
    body = paid(external_id, buyer=store["buyer"])
    response = await s2s_post(
        api, EVENTS, key_id=store["key_id"], secret=store["secret"], json_body=body
    )
    assert response.status == 200, response.text
    return int(response.json["order"]["id"])


async def test_staff_complete_a_paid_order_once_with_a_reason_and_it_is_audited(
    api: Api, store: dict[str, Any]
) -> None:
    order_id = await _order(api, store, "C-1")
    staff = await api.staff_token("staff", username="completing_staff")
    url = f"/admin/v1/orders/{order_id}/complete"

    done = await api.post(url, token=staff, json={"reason": "delivered, webhook lost"})
    again = await api.post(url, token=staff, json={"reason": "delivered, webhook lost"})
    detail = await api.get(f"/admin/v1/orders/{order_id}", token=staff)

    assert done.status == 200, done.text
    assert done.json["order"] == {"id": order_id, "status": "completed"}
    assert done.json["commissions"]["count"] == 2
    assert (again.status, again.json["error"]["code"]) == (409, "order_not_completable")
    assert again.json["error"]["fields"] == {"status": "completed"}
    assert detail.json["status"] == "completed"
    assert await AuditLog.filter(action="order.complete", target_id=order_id).count() == 1


async def test_completing_by_hand_needs_a_reason_a_staff_role_and_an_open_paid_order(
    api: Api, store: dict[str, Any]
) -> None:
    order_id = await _order(api, store, "C-2")
    await s2s_post(
        api, EVENTS, key_id=store["key_id"], secret=store["secret"], json_body=cancelled("C-2")
    )
    staff = await api.staff_token("staff", username="completing_staff2")
    finance = await api.staff_token("finance", username="completing_finance")
    url = f"/admin/v1/orders/{order_id}/complete"

    no_reason = await api.post(url, token=staff, json={})
    by_finance = await api.post(url, token=finance, json={"reason": "x"})
    cancelled_order = await api.post(url, token=staff, json={"reason": "x"})
    unknown = await api.post("/admin/v1/orders/999999/complete", token=staff, json={"reason": "x"})

    assert no_reason.status == 422
    assert (by_finance.status, by_finance.json["error"]["code"]) == (403, "role_forbidden")
    assert cancelled_order.status == 409
    assert cancelled_order.json["error"] == {
        "code": "order_not_completable",
        "message": cancelled_order.json["error"]["message"],
        "fields": {"status": "cancelled"},
    }
    assert (unknown.status, unknown.json["error"]["code"]) == (404, "order_not_found")


async def test_auto_complete_days_is_off_by_default_validated_and_can_be_turned_off(
    api: Api, store: dict[str, Any]
) -> None:
    program: Program = store["program"]
    admin = await api.staff_token("admin", username="settings_admin")
    url = f"/admin/v1/programs/{program.id}"

    before = await api.get(url, token=admin)
    refused = await api.patch(url, token=admin, json={"auto_complete_days": 0})
    turned_on = await api.patch(url, token=admin, json={"auto_complete_days": 14})
    turned_off = await api.patch(url, token=admin, json={"auto_complete_days": None})

    assert before.json["auto_complete_days"] is None
    assert refused.status == 422
    assert refused.json["error"]["code"] == "invalid_program_settings"
    assert set(refused.json["error"]["fields"]) == {"auto_complete_days"}
    assert (turned_on.status, turned_on.json["auto_complete_days"]) == (200, 14)
    assert (turned_off.status, turned_off.json["auto_complete_days"]) == (200, None)
