"""A drainer applies a claimed batch in lanes: one order's events in one lane, in order."""

from __future__ import annotations

import pytest

from server.domain.orders.inbox import split_into_lanes


def _order(event: str) -> str:
    return event.split(":")[0]


def test_the_events_of_one_order_stay_in_one_lane_in_the_order_received() -> None:
    batch = ["A:paid", "B:paid", "A:refund", "C:paid", "A:completed", "B:cancelled"]

    lanes = split_into_lanes(batch, key=_order, lanes=4)

    assert sorted(lanes) == [["A:paid", "A:refund", "A:completed"], ["B:paid", "B:cancelled"],
                             ["C:paid"]]  # fmt: skip


def test_orders_are_dealt_to_the_lanes_in_turn_and_no_lane_is_empty() -> None:
    batch = [f"{order}:paid" for order in "ABCDEF"]

    lanes = split_into_lanes(batch, key=_order, lanes=4)

    assert lanes == [["A:paid", "E:paid"], ["B:paid", "F:paid"], ["C:paid"], ["D:paid"]]
    assert split_into_lanes([], key=_order, lanes=4) == []


def test_one_lane_keeps_the_whole_batch_in_order() -> None:
    batch = ["B:paid", "A:paid", "B:refund"]
    assert split_into_lanes(batch, key=_order, lanes=1) == [batch]
    with pytest.raises(ValueError):
        split_into_lanes(batch, key=_order, lanes=0)
