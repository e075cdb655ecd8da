"""Fake or suspicious orders: repeat buyers, quick orders, refund rates, velocity spikes."""

from __future__ import annotations

from server.domain.fraud.findings import AnomalyKind
from server.domain.fraud.orders import (
    BuyerOrder,
    PromoterVelocity,
    ReferredOrder,
    detect_quick_orders,
    detect_refund_rate,
    detect_repeat_buyers,
    detect_velocity_spikes,
)
from server.domain.fraud.thresholds import FraudThresholds

T = FraudThresholds()


def test_one_buyer_buying_through_many_promoters_is_flagged() -> None:
    orders = [BuyerOrder(buyer_key="user:1", order_id=i, promoter_id=i % 3) for i in range(6)]
    [finding] = detect_repeat_buyers(orders, T)
    assert finding.kind == AnomalyKind.REPEAT_BUYER
    assert finding.evidence["promoters"] == 3
    assert finding.order_ids == tuple(range(6))


def test_a_loyal_customer_of_one_promoter_is_not_flagged() -> None:
    orders = [BuyerOrder(buyer_key="user:1", order_id=i, promoter_id=7) for i in range(20)]
    assert detect_repeat_buyers(orders, T) == []


def referred(count: int, *, quick: int = 0, refunded: int = 0) -> list[ReferredOrder]:
    return [
        ReferredOrder(
            order_id=i,
            promoter_id=8,
            seconds_after_binding=5 if i < quick else 3600,
            refunded=i < refunded,
        )
        for i in range(count)
    ]


def test_most_orders_right_after_binding_are_flagged() -> None:
    [finding] = detect_quick_orders(referred(8, quick=6), T)
    assert finding.kind == AnomalyKind.QUICK_ORDERS
    assert finding.order_ids == tuple(range(6))


def test_a_few_quick_orders_among_many_are_not_flagged() -> None:
    assert detect_quick_orders(referred(40, quick=6), T) == []


def test_a_refund_rate_above_the_threshold_is_flagged() -> None:
    [finding] = detect_refund_rate(referred(10, refunded=5), T)
    assert finding.kind == AnomalyKind.REFUND_RATE
    assert finding.evidence["refund_rate_percent"] == 50.0
    # The commissions still at stake are those of the orders not refunded.
    assert finding.order_ids == (5, 6, 7, 8, 9)


def test_a_normal_refund_rate_or_too_few_orders_is_not_flagged() -> None:
    assert detect_refund_rate(referred(20, refunded=3), T) == []
    assert detect_refund_rate(referred(4, refunded=4), T) == []


def test_a_promoter_whose_volume_grew_steadily_is_not_a_spike() -> None:
    # 10% more orders every week for four weeks, then a day in line with the last week.
    history = [round(4 * 1.1 ** (day // 7)) for day in range(28)]
    today = round(4 * 1.1**4) + 1
    row = PromoterVelocity(promoter_id=1, window_orders=max(today, 10), daily_history=history)
    assert detect_velocity_spikes([row], T) == []


def test_a_sudden_jump_against_the_promoters_own_history_is_a_spike() -> None:
    row = PromoterVelocity(promoter_id=1, window_orders=60, daily_history=[2] * 28)
    [finding] = detect_velocity_spikes([row], T)
    assert finding.kind == AnomalyKind.VELOCITY_SPIKE
    assert finding.evidence["usual_orders_per_window"] == 2.0


def test_a_new_promoters_first_busy_day_below_the_minimum_is_not_a_spike() -> None:
    row = PromoterVelocity(
        promoter_id=1, window_orders=T.min_orders_for_velocity - 1, daily_history=[]
    )
    assert detect_velocity_spikes([row], T) == []
