"""The store may report a paid order's shipping address and device: the route validates
them, and nothing but their hashes is stored, on the order or in the event log."""

from __future__ import annotations

from typing import Any

from server.models import Order, OrderEvent
from server.services.access.api_keys import create_api_key
from tests.api.conftest import Api
from tests.order_builders import ADMIN, customer, paid, shop
from tests.s2s_client import s2s_post

EVENTS = "/admin/v1/s2s/events"
HOME = {"province": "浙江省", "city": "杭州市", "district": "西湖区", "detail": "文三路1号"}


async def _store(api: Api) -> dict[str, Any]:
    program = await shop()
    issued = await create_api_key(
        program_id=program.id, name="store", actor=ADMIN, settings=api.app.ctx.settings
    )
    return {"program": program, "key_id": issued.api_key.key_id, "secret": issued.secret}


async def _post(api: Api, store: dict[str, Any], body: Any) -> Any:
    return await s2s_post(
        api, EVENTS, key_id=store["key_id"], secret=store["secret"], json_body=body
    )


async def test_a_paid_order_with_address_and_device_stores_only_their_hashes(api: Api) -> None:
    store = await _store(api)
    body = paid("W-1", buyer=await customer(), shipping_address=HOME, device_id="dev-9")

    first = await _post(api, store, body)
    again = await _post(api, store, body)

    assert first.status == 200, first.text
    assert again.headers.get("x-fenxiao-replayed") == "true"
    order = await Order.get(program_id=store["program"].id, external_id="W-1")
    assert order.address_hash and order.device_hash
    [event] = await OrderEvent.filter(program_id=store["program"].id)
    assert "文三路" not in str(event.payload) and "dev-9" not in str(event.payload)
    assert event.payload["order"]["address_hash"] == order.address_hash


async def test_an_address_with_an_unknown_field_or_without_detail_is_refused(api: Api) -> None:
    store = await _store(api)

    unknown = await _post(api, store, paid("W-2", shipping_address={**HOME, "room": "3"}))
    no_detail = await _post(api, store, paid("W-3", shipping_address={"city": "杭州市"}))
    blank = await _post(api, store, paid("W-4", shipping_address={"detail": "，。"}))

    assert unknown.status == 422
    assert "order.shipping_address.room" in unknown.json["error"]["fields"]
    assert no_detail.status == 422
    assert "order.shipping_address.detail" in no_detail.json["error"]["fields"]
    assert (blank.status, blank.json["error"]["code"]) == (422, "invalid_shipping_address")
    assert await Order.filter(program_id=store["program"].id).count() == 0
