"""Many orders from one shipping address or one device across promoters."""

from __future__ import annotations

from server.domain.fraud.findings import AnomalyKind
from server.domain.fraud.orders import SignalOrder, detect_shared_signal_orders
from server.domain.fraud.thresholds import FraudThresholds

T = FraudThresholds()


def _orders(signal: str, count: int, promoters: int) -> list[SignalOrder]:
    return [
        SignalOrder(signal=signal, key_hash="h1", order_id=i, promoter_id=100 + i % promoters)
        for i in range(count)
    ]


def test_many_orders_to_one_address_through_many_promoters_are_flagged() -> None:
    [finding] = detect_shared_signal_orders(_orders("address", 6, 3), T)

    assert finding.kind == AnomalyKind.ORDERS_ONE_ADDRESS
    assert finding.subject_id == "address:h1"
    assert finding.order_ids == tuple(range(6))
    assert finding.evidence["orders"] == 6 and finding.evidence["promoters"] == 3
    assert finding.evidence["orders_threshold"] == T.orders_per_address


def test_many_orders_from_one_device_through_many_promoters_are_flagged() -> None:
    [finding] = detect_shared_signal_orders(_orders("device", 5, 3), T)

    assert finding.kind == AnomalyKind.ORDERS_ONE_DEVICE
    assert finding.subject_id == "device:h1"


def test_a_family_ordering_to_its_one_address_below_the_threshold_is_not_flagged() -> None:
    assert detect_shared_signal_orders(_orders("address", 4, 3), T) == []


def test_a_household_loyal_to_one_or_two_promoters_is_not_flagged_however_often() -> None:
    assert detect_shared_signal_orders(_orders("address", 30, 2), T) == []
    assert detect_shared_signal_orders(_orders("device", 30, 1), T) == []


def test_the_thresholds_are_the_programs() -> None:
    strict = FraudThresholds(orders_per_address=3, promoters_per_buyer=2)

    assert detect_shared_signal_orders(_orders("address", 4, 2), strict) != []
