"""An order.paid's shipping address and device: validated, normalized, and only ever kept as
salted hashes (the visits' hashing and salt)."""

from __future__ import annotations

from typing import Any

import pytest

from server.domain.errors import ValidationFailed
from server.domain.fraud.identity import hash_identifier
from server.domain.orders.parsing import parse_event, seal_buyer_signals

SALT = "test-salt"


def _paid(**order: Any) -> dict[str, Any]:
    return {
        "event_id": "e-1",
        "type": "order.paid",
        "occurred_at": "2026-03-02T10:00:00+00:00",
        "order": {
            "external_id": "W-1",
            "currency": "CNY",
            "placed_at": "2026-03-02T10:00:00+00:00",
            "buyer": {"openid": "o-1"},
            "lines": [
                {
                    "line_ref": "L1",
                    "product_id": "SKU",
                    "quantity": 1,
                    "unit_price": "10.00",
                    "amount": "10.00",
                }
            ],
            **order,
        },
    }


def _address_hash(address: dict[str, Any]) -> str:
    return seal_buyer_signals(_paid(shipping_address=address), salt=SALT)["order"]["address_hash"]


def test_one_address_spelled_with_full_width_case_spaces_or_punctuation_hashes_alike() -> None:
    plain = {
        "province": "浙江省",
        "city": "杭州市",
        "district": "西湖区",
        "detail": "文三路 1号 Room 3B",
    }
    wide = {
        "province": " 浙江省",
        "city": "杭州市",
        "district": "西湖区",
        "detail": "文三路１号，ＲＯＯＭ　３ｂ。",
    }

    assert _address_hash(plain) == _address_hash(wide)


def test_different_addresses_or_cities_hash_apart() -> None:
    home = {"city": "杭州市", "detail": "文三路1号"}

    assert _address_hash(home) != _address_hash({"city": "杭州市", "detail": "文三路2号"})
    assert _address_hash(home) != _address_hash({"city": "宁波市", "detail": "文三路1号"})


def test_the_sealed_body_keeps_no_raw_address_or_device() -> None:
    sealed = seal_buyer_signals(
        _paid(shipping_address={"detail": "文三路1号"}, device_id="dev-9"), salt=SALT
    )

    order = sealed["order"]
    assert "shipping_address" not in order and "device_id" not in order
    assert "文三路" not in str(sealed) and "dev-9" not in str(sealed)
    assert len(order["address_hash"]) == 64


def test_an_order_device_hashes_as_the_visits_of_that_visitor_id_do() -> None:
    sealed = seal_buyer_signals(_paid(device_id="dev-9"), salt=SALT)

    assert sealed["order"]["device_hash"] == hash_identifier("v:dev-9", salt=SALT)


def test_a_body_without_signals_is_sealed_unchanged_so_its_replays_still_match() -> None:
    body = _paid()

    assert seal_buyer_signals(body, salt=SALT) == body
    assert seal_buyer_signals(_paid(shipping_address=None, device_id=None), salt=SALT) == body


@pytest.mark.parametrize(
    ("address", "field"),
    [
        ({"detail": "x", "street": "y"}, "order.shipping_address.street"),
        ({"city": "杭州"}, "order.shipping_address.detail"),
        ({"detail": "，。 "}, "order.shipping_address.detail"),
        ({"detail": "x" * 257}, "order.shipping_address.detail"),
        ({"detail": "x", "city": 5}, "order.shipping_address.city"),
        ("文三路1号", "order.shipping_address"),
    ],
)
def test_a_malformed_address_is_refused_naming_the_field(address: Any, field: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        seal_buyer_signals(_paid(shipping_address=address), salt=SALT)

    assert refused.value.code == "invalid_shipping_address"
    assert field in refused.value.fields


@pytest.mark.parametrize("device", ["", "   ", 7, "d" * 129])
def test_a_malformed_device_id_is_refused(device: Any) -> None:
    with pytest.raises(ValidationFailed) as refused:
        seal_buyer_signals(_paid(device_id=device), salt=SALT)

    assert refused.value.code == "invalid_device_id"


def test_the_parsed_order_carries_the_hashes_and_refuses_raw_signals() -> None:
    sealed = seal_buyer_signals(
        _paid(shipping_address={"detail": "文三路1号"}, device_id="dev-9"), salt=SALT
    )

    order = parse_event(sealed).order
    assert order.address_hash == sealed["order"]["address_hash"]  # type: ignore[union-attr]
    assert order.device_hash == hash_identifier("v:dev-9", salt=SALT)  # type: ignore[union-attr]
    with pytest.raises(ValidationFailed):
        parse_event(_paid(shipping_address={"detail": "文三路1号"}))
    with pytest.raises(ValidationFailed):
        parse_event(_paid(address_hash="not-a-hash"))
