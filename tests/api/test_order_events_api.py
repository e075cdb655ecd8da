"""The store posts signed order events; staff read orders and recorded events."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from server.models import Commission, Order, OrderEvent, Program
from tests.api.conftest import Api
from tests.order_builders import (
    T0,
    line,
    paid,
    refunded,
)
from tests.s2s_client import s2s_post

EVENTS = "/admin/v1/s2s/events"


async def _post(api: Api, store: dict[str, Any], body: Any) -> Any:
    return await s2s_post(
        api, EVENTS, key_id=store["key_id"], secret=store["secret"], json_body=body
    )


def _error(response: Any) -> tuple[int, str]:
    return response.status, response.json["error"]["code"]


async def test_a_signed_paid_event_creates_the_order_that_staff_then_read_in_full(
    api: Api, store: dict[str, Any]
) -> None:
    body = paid("W-1", line("A", "120.00", quantity=2, unit_price="60.00"), buyer=store["buyer"])

    response = await _post(api, store, body)

    assert response.status == 200, response.text
    assert response.json["status"] == "applied"
    assert response.json["commissions"] == {"count": 2, "total": "18.00"}
    order_id = response.json["order"]["id"]
    staff = await api.staff_token("finance", username="orders_finance")
    detail = await api.get(f"/admin/v1/orders/{order_id}", token=staff)
    assert detail.status == 200, detail.text
    order = detail.json
    assert (order["external_id"], order["status"], order["total_amount"]) == (
        "W-1",
        "paid",
        "120.00",
    )
    assert order["lines"] == [
        {
            "id": order["lines"][0]["id"],
            "line_ref": "A",
            "product_id": "SKU-1",
            "category": None,
            "quantity": 2,
            "unit_price": "60.00",
            "amount": "120.00",
            "refunded_amount": "0.00",
            "net": "120.00",
        }
    ]
    assert order["attribution"]["attribution"]["binding"]["promoter_id"] == store["nearest"].id
    assert [(c["level"], c["amount"], c["status"]) for c in order["commissions"]] == [
        (1, "12.00", "pending"),
        (2, "6.00", "pending"),
    ]
    assert order["commissions"][0]["explanation"]["formula"] == "10% × 120.00"
    assert order["commissions"][0]["history"][0]["action"] == "created"
    assert [(e["event_id"], e["status"]) for e in order["events"]] == [
        (body["event_id"], "applied")
    ]


@pytest.mark.parametrize(
    ("amount", "code"),
    [
        (100, "validation_failed"),
        (99.5, "validation_failed"),
        ("-1.00", "invalid_amount"),
        ("10.001", "invalid_amount"),
        ("99999999999999999.00", "invalid_amount"),
        ("1e3", "invalid_amount"),
    ],
)
async def test_amounts_must_be_decimal_strings_in_range_and_in_cents(
    api: Api, store: dict[str, Any], amount: Any, code: str
) -> None:
    body = paid("W-2", line("A", "100.00"))
    body["order"]["lines"][0]["amount"] = amount

    response = await _post(api, store, body)

    assert _error(response) == (422, code)
    assert "order.lines.0.amount" in response.json["error"]["fields"]
    assert await OrderEvent.all().count() == 0
    # Nothing was recorded: the corrected body may reuse the event id.
    body["order"]["lines"][0]["amount"] = "100.00"
    assert (await _post(api, store, body)).status == 200


async def test_an_integer_wider_than_the_database_holds_inside_the_order_is_refused_naming_it(
    api: Api, store: dict[str, Any]
) -> None:
    body = paid("W-4", line("A", "100.00"))
    body["order"]["site_id"] = 10**30

    response = await _post(api, store, body)

    assert _error(response) == (422, "validation_failed")
    assert response.json["error"]["fields"] == {
        "order.site_id": "Value error, integer out of range"
    }
    assert await OrderEvent.all().count() == 0


async def test_an_unknown_event_type_or_field_is_refused_naming_it(
    api: Api, store: dict[str, Any]
) -> None:
    unknown_type = await _post(api, store, {"event_id": "e-1", "type": "order.shipped"})
    assert _error(unknown_type) == (422, "validation_failed")
    assert "type" in unknown_type.json["error"]["fields"]
    body = paid("W-3")
    body["order"]["discount"] = "5.00"
    extra = await _post(api, store, body)
    assert _error(extra) == (422, "validation_failed")
    assert extra.json["error"]["fields"] == {"order.discount": "unknown field"}
    refund = refunded("W-3", lines={"A": "1.00"}, full=True)
    assert _error(await _post(api, store, refund)) == (422, "invalid_refund")


async def test_an_order_in_another_currency_is_refused(api: Api, store: dict[str, Any]) -> None:
    response = await _post(api, store, paid("W-4", currency="USD"))
    assert _error(response) == (422, "currency_mismatch")
    assert response.json["error"]["fields"] == {"order.currency": "must be CNY"}


async def test_a_replayed_delivery_gets_the_first_answer_and_a_replay_header(
    api: Api, store: dict[str, Any]
) -> None:
    body = paid("W-5", buyer=store["buyer"])
    first = await _post(api, store, body)
    second = await _post(api, store, body)

    assert (second.status, second.json) == (first.status, first.json)
    assert second.headers.get("x-fenxiao-replayed") == "true"
    assert first.headers.get("x-fenxiao-replayed") is None
    other_body = paid("W-5", line("A", "1.00"), event_id=body["event_id"])
    assert _error(await _post(api, store, other_body)) == (409, "event_id_conflict")


async def test_a_refund_before_paid_answers_202_and_staff_see_it_waiting(
    api: Api, store: dict[str, Any]
) -> None:
    refund = refunded("W-6", lines={"A": "10.00"})
    response = await _post(api, store, refund)
    assert response.status == 202
    assert response.json["code"] == "event_pending_until_paid"

    staff = await api.staff_token("staff", username="events_staff")
    waiting = await api.get(
        "/admin/v1/order-events",
        token=staff,
        params={"status": "pending", "program_id": store["program"].id},
    )
    assert waiting.status == 200
    assert [(e["event_id"], e["type"]) for e in waiting.json["items"]] == [
        (refund["event_id"], "order.refunded")
    ]
    finance = await api.staff_token("finance", username="events_finance")
    refused = await api.get("/admin/v1/order-events", token=finance)
    assert _error(refused) == (403, "role_forbidden")

    await _post(api, store, paid("W-6", buyer=store["buyer"]))
    after = await api.get("/admin/v1/order-events", token=staff, params={"status": "pending"})
    assert after.json["items"] == []


async def test_staff_filter_orders_by_status_time_and_promoter_and_page_through_them(
    api: Api, store: dict[str, Any]
) -> None:
    program: Program = store["program"]
    for index in range(3):
        placed_at = T0 + timedelta(days=index)
        await _post(api, store, paid(f"L-{index}", buyer=store["buyer"], placed_at=placed_at))
    await _post(api, store, paid("L-anon", placed_at=T0))
    await _post(api, store, refunded("L-0", full=True))
    staff = await api.staff_token("staff", username="orders_staff")
    base = {"program_id": program.id}

    async def ids(**params: Any) -> list[str]:
        response = await api.get("/admin/v1/orders", token=staff, params={**base, **params})
        assert response.status == 200, response.text
        return [item["external_id"] for item in response.json["items"]]

    assert await ids() == ["L-anon", "L-2", "L-1", "L-0"]
    assert await ids(status="refunded") == ["L-0"]
    assert await ids(promoter_id=store["top"].id) == ["L-2", "L-1", "L-0"]
    window = {
        "from": (T0 + timedelta(days=1)).isoformat(),
        "to": (T0 + timedelta(days=2)).isoformat(),
    }
    assert await ids(**window) == ["L-1"]
    page = await api.get("/admin/v1/orders", token=staff, params={**base, "limit": 2})
    rest = await api.get(
        "/admin/v1/orders",
        token=staff,
        params={**base, "limit": 2, "cursor": page.json["next_cursor"]},
    )
    assert [i["external_id"] for i in page.json["items"] + rest.json["items"]] == [
        "L-anon",
        "L-2",
        "L-1",
        "L-0",
    ]
    missing = await api.get("/admin/v1/orders/999999", token=staff)
    assert _error(missing) == (404, "order_not_found")


@pytest.mark.mysql
async def test_concurrent_deliveries_over_http_apply_an_event_once(
    api: Api, store: dict[str, Any]
) -> None:
    body = paid("W-7", line("A", "100.00"), line("B", "20.00"), buyer=store["buyer"])

    responses = await asyncio.gather(*(_post(api, store, body) for _ in range(6)))

    assert {r.status for r in responses} == {200}
    assert len({r.text for r in responses}) == 1
    assert sum(r.headers.get("x-fenxiao-replayed") is None for r in responses) == 1
    assert await Order.all().count() == 1 and await Commission.all().count() == 4


async def test_the_openapi_document_describes_the_event_shapes(api: Api) -> None:
    spec = (await api.get("/admin/v1/openapi.json")).json
    operation = spec["paths"][EVENTS]["post"]
    assert {p["name"] for p in operation["parameters"]} >= {"X-Fenxiao-Signature"}
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body["discriminator"]["propertyName"] == "type"
    assert set(body["discriminator"]["mapping"]) == {
        "order.paid",
        "order.refunded",
        "order.completed",
        "order.cancelled",
    }
    paid_line = spec["components"]["schemas"]["PaidLineBody"]
    assert paid_line["properties"]["quantity"]["minimum"] == 1
    assert "unit_price" in paid_line["required"]
