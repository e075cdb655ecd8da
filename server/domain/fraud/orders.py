"""Fake or suspicious orders: repeat buyers, one address or device, orders right after
binding, refund rates and velocity spikes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from server.domain.fraud.findings import AnomalyKind, Finding, SubjectKind, ratio_score
from server.domain.fraud.thresholds import FraudThresholds

RECENT_DAYS = 7


@dataclass(frozen=True, kw_only=True)
class BuyerOrder:
    buyer_key: str
    order_id: int
    promoter_id: int


@dataclass(frozen=True, kw_only=True)
class SignalOrder:
    """An attributed order with the hashed shipping address or device it came with."""

    signal: str  # address | device
    key_hash: str
    order_id: int
    promoter_id: int


@dataclass(frozen=True, kw_only=True)
class ReferredOrder:
    """A promoter's referred order in the window, with how long after binding it came."""

    order_id: int
    promoter_id: int
    seconds_after_binding: float | None
    refunded: bool = False


@dataclass(frozen=True, kw_only=True)
class PromoterVelocity:
    promoter_id: int
    window_orders: int
    # Orders in each 24 hours before the window, oldest first (one entry per day of history).
    daily_history: Sequence[int]
    window_order_ids: tuple[int, ...] = ()


def detect_repeat_buyers(
    orders: Iterable[BuyerOrder], thresholds: FraudThresholds
) -> list[Finding]:
    """One finding per buyer spreading many orders over many promoters."""
    by_buyer: dict[str, list[BuyerOrder]] = defaultdict(list)
    for order in orders:
        by_buyer[order.buyer_key].append(order)
    findings = []
    for buyer_key, found in sorted(by_buyer.items()):
        promoters = {order.promoter_id for order in found}
        if len(promoters) < thresholds.promoters_per_buyer:
            continue
        score = ratio_score(len(found), thresholds.orders_per_buyer)
        if not score:
            continue
        findings.append(
            Finding(
                kind=AnomalyKind.REPEAT_BUYER,
                subject_kind=SubjectKind.BUYER,
                subject_id=buyer_key,
                score=score,
                evidence={
                    "orders": len(found),
                    "promoters": len(promoters),
                    "promoter_ids": sorted(promoters),
                    "orders_threshold": thresholds.orders_per_buyer,
                    "promoters_threshold": thresholds.promoters_per_buyer,
                },
                order_ids=tuple(sorted(order.order_id for order in found)),
                promoter_ids=tuple(sorted(promoters)),
            )
        )
    return findings


SIGNAL_KINDS = {"address": AnomalyKind.ORDERS_ONE_ADDRESS, "device": AnomalyKind.ORDERS_ONE_DEVICE}


def signal_order_threshold(signal: str, thresholds: FraudThresholds) -> int:
    """How many orders one address or one device may carry before it is suspicious."""
    if signal == "address":
        return thresholds.orders_per_address
    return thresholds.orders_per_device


def detect_shared_signal_orders(
    orders: Iterable[SignalOrder], thresholds: FraudThresholds
) -> list[Finding]:
    """One finding per address or device carrying many orders over many promoters."""
    grouped: dict[tuple[str, str], list[SignalOrder]] = defaultdict(list)
    for order in orders:
        grouped[(order.signal, order.key_hash)].append(order)
    findings = []
    for (signal, key_hash), found in sorted(grouped.items()):
        promoters = {order.promoter_id for order in found}
        if len(promoters) < thresholds.promoters_per_buyer:
            continue
        limit = signal_order_threshold(signal, thresholds)
        order_ids = sorted({order.order_id for order in found})
        score = ratio_score(len(order_ids), limit)
        if not score:
            continue
        findings.append(
            Finding(
                kind=SIGNAL_KINDS[signal],
                subject_kind=SubjectKind.BUYER,
                subject_id=f"{signal}:{key_hash}",
                score=score,
                evidence={
                    "signal": signal,
                    "key_hash": key_hash,
                    "orders": len(order_ids),
                    "promoters": len(promoters),
                    "promoter_ids": sorted(promoters),
                    "orders_threshold": limit,
                    "promoters_threshold": thresholds.promoters_per_buyer,
                },
                order_ids=tuple(order_ids),
                promoter_ids=tuple(sorted(promoters)),
            )
        )
    return findings


def _by_promoter(orders: Iterable[ReferredOrder]) -> dict[int, list[ReferredOrder]]:
    grouped: dict[int, list[ReferredOrder]] = defaultdict(list)
    for order in orders:
        grouped[order.promoter_id].append(order)
    return dict(sorted(grouped.items()))


def detect_quick_orders(
    orders: Iterable[ReferredOrder], thresholds: FraudThresholds
) -> list[Finding]:
    """One finding per promoter most of whose orders come right after binding."""
    findings = []
    for promoter_id, found in _by_promoter(orders).items():
        quick = [
            o
            for o in found
            if o.seconds_after_binding is not None
            and 0 <= o.seconds_after_binding < thresholds.quick_order_seconds
        ]
        if len(quick) < thresholds.min_quick_orders:
            continue
        share = 100 * len(quick) / len(found)
        score = ratio_score(share, thresholds.quick_order_share_percent)
        if not score:
            continue
        findings.append(
            Finding(
                kind=AnomalyKind.QUICK_ORDERS,
                subject_kind=SubjectKind.PROMOTER,
                subject_id=str(promoter_id),
                score=score,
                promoter_id=promoter_id,
                evidence={
                    "orders": len(found),
                    "quick_orders": len(quick),
                    "quick_share_percent": round(share, 1),
                    "quick_order_seconds": thresholds.quick_order_seconds,
                    "threshold_percent": thresholds.quick_order_share_percent,
                },
                order_ids=tuple(sorted(o.order_id for o in quick)),
            )
        )
    return findings


def detect_refund_rate(
    orders: Iterable[ReferredOrder], thresholds: FraudThresholds
) -> list[Finding]:
    """One finding per promoter whose referred orders are refunded too often."""
    findings = []
    for promoter_id, found in _by_promoter(orders).items():
        if len(found) < thresholds.min_orders_for_refund_rate:
            continue
        refunded = [o for o in found if o.refunded]
        rate = 100 * len(refunded) / len(found)
        score = ratio_score(rate, thresholds.refund_rate_percent)
        if not score:
            continue
        findings.append(
            Finding(
                kind=AnomalyKind.REFUND_RATE,
                subject_kind=SubjectKind.PROMOTER,
                subject_id=str(promoter_id),
                score=score,
                promoter_id=promoter_id,
                evidence={
                    "orders": len(found),
                    "refunded_orders": len(refunded),
                    "refund_rate_percent": round(rate, 1),
                    "threshold_percent": thresholds.refund_rate_percent,
                },
                # The orders still standing are the ones whose commissions are at stake.
                order_ids=tuple(sorted(o.order_id for o in found if not o.refunded)),
            )
        )
    return findings


def usual_per_window(daily_history: Sequence[int], window_hours: int) -> float:
    """The promoter's usual order count per window, at least 1."""
    # The higher of the recent and the whole-history average: a promoter whose volume grows
    # steadily is compared with their recent level, so growth is not a spike.
    if not daily_history:
        return 1.0
    recent = daily_history[-RECENT_DAYS:]
    per_day = max(sum(recent) / len(recent), sum(daily_history) / len(daily_history))
    return max(per_day * window_hours / 24, 1.0)


def detect_velocity_spikes(
    velocities: Iterable[PromoterVelocity], thresholds: FraudThresholds
) -> list[Finding]:
    """One finding per promoter whose orders jumped far above their own recent level."""
    findings = []
    for row in sorted(velocities, key=lambda v: v.promoter_id):
        if row.window_orders < thresholds.min_orders_for_velocity:
            continue
        usual = usual_per_window(row.daily_history, thresholds.scan_window_hours)
        score = ratio_score(row.window_orders / usual, thresholds.velocity_multiplier)
        if not score:
            continue
        findings.append(
            Finding(
                kind=AnomalyKind.VELOCITY_SPIKE,
                subject_kind=SubjectKind.PROMOTER,
                subject_id=str(row.promoter_id),
                score=score,
                promoter_id=row.promoter_id,
                evidence={
                    "window_orders": row.window_orders,
                    "usual_orders_per_window": round(usual, 2),
                    "history_days": len(row.daily_history),
                    "multiplier": thresholds.velocity_multiplier,
                },
                order_ids=row.window_order_ids,
            )
        )
    return findings
