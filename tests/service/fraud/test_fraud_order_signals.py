"""Orders reporting a shipping address or device: only hashes are kept, and many orders from
one address or device across promoters become anomalies holding their commissions."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from admin_api.order_events import EVENT_SCHEMAS
from server.domain.orders.events import EventType
from server.domain.orders.parsing import seal_buyer_signals
from server.models import Anomaly, AnomalyLink, Order, OrderEvent, Program
from server.services.fraud.scans import scan_for_fraud
from server.services.orders.events import ingest_order_event
from tests.order_builders import (
    APPID,
    T0,
    bind,
    commissions_of,
    customer,
    line,
    paid,
    promoter,
    shop,
)

UNTIL = T0 + timedelta(hours=1)
HOME = {"province": "浙江省", "city": "杭州市", "district": "西湖区", "detail": "文三路1号"}


async def send_sealed(program: Program, body: dict[str, Any]) -> None:
    """Post as the S2S route does: schema, then the buyer signals sealed with the salt."""
    payload = EVENT_SCHEMAS[EventType(body["type"])].model_validate(body).model_dump(mode="json")
    sealed = seal_buyer_signals(payload, salt="test-salt")
    recorded = await ingest_order_event(program_id=program.id, payload=sealed, appid=APPID)
    assert recorded.outcome.status_code == 200, recorded.outcome.body


async def orders_through_promoters(
    program: Program, count: int, promoters: int, **signals: Any
) -> None:
    owners = [await promoter(program) for _ in range(promoters)]
    for n in range(count):
        buyer = await customer()
        await bind(program, owners[n % promoters], user=buyer)
        body = paid(f"S-{n}", line(), buyer=buyer, placed_at=T0 - timedelta(hours=n), **signals)
        await send_sealed(program, body)


async def test_an_order_keeps_only_hashes_of_its_address_and_device(db: str) -> None:
    program = await shop()
    await orders_through_promoters(program, 1, 1, shipping_address=HOME, device_id="dev-9")

    order = await Order.get(program_id=program.id)
    assert order.address_hash is not None and len(order.address_hash) == 64
    assert order.device_hash is not None and len(order.device_hash) == 64
    [event] = await OrderEvent.filter(program_id=program.id)
    assert "文三路" not in str(event.payload) and "dev-9" not in str(event.payload)


async def test_many_orders_to_one_address_across_promoters_hold_their_commissions(
    db: str,
) -> None:
    program = await shop()
    await orders_through_promoters(program, 6, 3, shipping_address=HOME)

    summary = await scan_for_fraud(until=UNTIL, program_ids=[program.id])

    assert summary["by_kind"] == {"orders_from_one_address": 1}
    [anomaly] = await Anomaly.all()
    assert anomaly.subject_id.startswith("address:")
    assert anomaly.evidence["orders"] == 6 and anomaly.evidence["promoters"] == 3
    assert await AnomalyLink.filter(anomaly_id=anomaly.id, target_kind="order").count() == 6
    held = await commissions_of(program, "S-0")
    assert held[("L1", 1)].hold_reason == f"anomaly:{anomaly.id}"


async def test_many_orders_from_one_device_across_promoters_are_flagged(db: str) -> None:
    program = await shop()
    await orders_through_promoters(program, 5, 3, device_id="phone-1")

    await scan_for_fraud(until=UNTIL, program_ids=[program.id])

    assert await Anomaly.all().values_list("kind", flat=True) == ["orders_from_one_device"]


async def test_a_family_ordering_to_its_home_below_the_threshold_is_not_flagged(db: str) -> None:
    program = await shop()
    await orders_through_promoters(program, 4, 3, shipping_address=HOME, device_id="family")

    summary = await scan_for_fraud(until=UNTIL, program_ids=[program.id])

    assert summary["findings"] == 0
    assert await Anomaly.all().count() == 0


async def test_orders_without_address_or_device_are_never_grouped_together(db: str) -> None:
    program = await shop()
    await orders_through_promoters(program, 8, 4)

    summary = await scan_for_fraud(until=UNTIL, program_ids=[program.id])

    assert summary["findings"] == 0
