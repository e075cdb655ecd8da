"""Rolling raw facts (visits, bindings, paid orders with their lines and commissions) up into
rollup rows per bucket, dimension and value; the same function serves refresh and rebuild."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from server.domain.reports.metrics import Sums


class Dimension(StrEnum):
    ALL = "all"
    SITE = "site"
    CHANNEL = "channel"
    UTM_SOURCE = "utm_source"
    UTM_MEDIUM = "utm_medium"
    UTM_CAMPAIGN = "utm_campaign"
    REACHED_BY = "reached_by"
    PRODUCT = "product"
    CATEGORY = "category"
    LEVEL = "level"
    PROMOTER = "promoter"
    # Read-time only: promoter rows grouped by the promoter's tier now (never stored).
    TIER = "tier"


STORED_DIMENSIONS = tuple(d for d in Dimension if d != Dimension.TIER)


@dataclass(frozen=True, kw_only=True)
class Touch:
    """Where traffic or an order came from: the dimensions visits, bindings and orders share."""

    promoter_id: int | None = None
    site_id: int | None = None
    channel_id: int | None = None
    utm_source: str | None = None
    utm_medium: str | None = None
    utm_campaign: str | None = None
    reached_by: str | None = None

    def values(self) -> dict[Dimension, str | None]:
        return {
            Dimension.SITE: _text(self.site_id),
            Dimension.CHANNEL: _text(self.channel_id),
            Dimension.UTM_SOURCE: self.utm_source,
            Dimension.UTM_MEDIUM: self.utm_medium,
            Dimension.UTM_CAMPAIGN: self.utm_campaign,
            Dimension.REACHED_BY: self.reached_by,
            Dimension.PROMOTER: _text(self.promoter_id),
        }


@dataclass(frozen=True, kw_only=True)
class VisitCount:
    """Visits of one bucket under one dimension value (bots or not), counted by the database."""

    bucket: datetime
    dimension: Dimension
    value: str | None
    is_bot: bool
    count: int


@dataclass(frozen=True, kw_only=True)
class BindingFact:
    bound_at: datetime
    touch: Touch


@dataclass(frozen=True, kw_only=True)
class CommissionFact:
    line_index: int
    promoter_id: int
    level: int
    status: str
    amount: Decimal
    original_amount: Decimal

    @property
    def counted_amount(self) -> Decimal:
        """Live commissions count what they are worth now; rejected and reversed ones what
        they were worth when the order was paid (what the program did not pay)."""
        return self.original_amount if self.status in ("rejected", "reversed") else self.amount


@dataclass(frozen=True, kw_only=True)
class LineFact:
    product_id: str
    category: str | None
    amount: Decimal
    refunded: Decimal


@dataclass(frozen=True, kw_only=True)
class OrderFact:
    paid_at: datetime
    total: Decimal
    refunded: Decimal
    cancelled: bool
    touch: Touch
    # Who bought (buyer_key), None when the store named nobody.
    buyer: str | None = None
    lines: tuple[LineFact, ...] = ()
    commissions: tuple[CommissionFact, ...] = ()

    @property
    def refunds(self) -> Decimal:
        """What left the order: its refunds, or all of it once cancelled."""
        return self.total if self.cancelled else self.refunded

    def line_refunds(self, line: LineFact) -> Decimal:
        return line.amount if self.cancelled else line.refunded


Key = tuple[datetime, str, str]


@dataclass
class BuyerSums:
    """One buyer's orders and net sales in one bucket under one touch."""

    orders: int = 0
    net_sales: Decimal = Decimal(0)


@dataclass
class Rollup:
    """Rollup rows by (bucket, dimension, value) and the bucket's buyers (customer reports
    are read from these); unique visitors are written by the database from the visits."""

    rows: dict[Key, Sums] = field(default_factory=dict)
    buyers: dict[tuple[datetime, str, Touch], BuyerSums] = field(default_factory=dict)

    def sums(self, bucket: datetime, dimension: Dimension, value: str | None) -> Sums | None:
        if value is None or value == "":
            return None
        key = (bucket, dimension.value, value)
        if key not in self.rows:
            self.rows[key] = Sums()
        return self.rows[key]

    def add(
        self, bucket: datetime, values: Mapping[Dimension, str | None], column: str, amount: Any
    ) -> None:
        for dimension, value in values.items():
            target = self.sums(bucket, dimension, value)
            if target is not None:
                target.add(column, amount)


def _text(value: int | None) -> str | None:
    return None if value is None else str(value)


# The value of the one row per bucket that holds the program's totals.
ALL_VALUE = "*"


def _with_all(values: Mapping[Dimension, str | None]) -> dict[Dimension, str | None]:
    return {Dimension.ALL: ALL_VALUE, **values}


def touch_values(touch: Touch) -> dict[Dimension, str | None]:
    """The rows a touch counts in: the totals and each of its dimension values."""
    return _with_all(touch.values())


def roll_up(
    *,
    bucket_of: Callable[[datetime], datetime],
    visit_counts: Iterable[VisitCount] = (),
    bindings: Iterable[BindingFact] = (),
    orders: Iterable[OrderFact] = (),
) -> Rollup:
    """The rollup rows these facts make; `bucket_of` maps an instant to its bucket (visit
    counts come already bucketed)."""
    rollup = Rollup()
    for counted in visit_counts:
        target = rollup.sums(counted.bucket, counted.dimension, counted.value)
        if target is not None:
            target.add("bot_visits" if counted.is_bot else "visits", counted.count)
    for binding in bindings:
        rollup.add(bucket_of(binding.bound_at), _with_all(binding.touch.values()), "bindings", 1)
    for order in orders:
        _roll_order(rollup, bucket_of(order.paid_at), order)
    return rollup


def buyer_key(*, user_id: int | None, external_id: str | None) -> str | None:
    """A buyer's identity as reports keep it: a digest, never the store's raw id."""
    if user_id is not None:
        raw = f"user:{user_id}"
    elif external_id:
        raw = f"ext:{external_id}"
    else:
        return None
    return hashlib.sha256(raw.encode()).hexdigest()


def _roll_order(rollup: Rollup, bucket: datetime, order: OrderFact) -> None:
    values = _with_all(order.touch.values())
    refunds = order.refunds
    if order.buyer is not None:
        buyer = rollup.buyers.setdefault((bucket, order.buyer, order.touch), BuyerSums())
        buyer.orders += 1
        buyer.net_sales += order.total - refunds
    for column, amount in (
        ("orders", 1),
        ("gmv", order.total),
        ("refunds", refunds),
        ("net_sales", order.total - refunds),
    ):
        rollup.add(bucket, values, column, amount)
    products = {line.product_id for line in order.lines}
    categories = {line.category for line in order.lines if line.category}
    for dimension, names in ((Dimension.PRODUCT, products), (Dimension.CATEGORY, categories)):
        for name in names:
            rollup.add(bucket, {dimension: name}, "orders", 1)
    for line in order.lines:
        line_values = {Dimension.PRODUCT: line.product_id, Dimension.CATEGORY: line.category}
        refunded = order.line_refunds(line)
        rollup.add(bucket, line_values, "gmv", line.amount)
        rollup.add(bucket, line_values, "refunds", refunded)
        rollup.add(bucket, line_values, "net_sales", line.amount - refunded)
    for commission in order.commissions:
        line = order.lines[commission.line_index]
        # The order's touch, the line's product, the level, and the beneficiary (who may
        # not be the promoter the order is attributed to).
        commission_values = {
            **values,
            Dimension.PRODUCT: line.product_id,
            Dimension.CATEGORY: line.category,
            Dimension.LEVEL: str(commission.level),
            Dimension.PROMOTER: str(commission.promoter_id),
        }
        rollup.add(bucket, commission_values, f"commissions_{commission.status}", 1)
        rollup.add(
            bucket,
            commission_values,
            f"commission_amount_{commission.status}",
            commission.counted_amount,
        )


def order_touch(
    attribution: Mapping[str, Any],
    *,
    promoter_id: int | None,
    site_id: int | None,
    campaign: str | None,
    visit: Touch | None,
) -> Touch:
    """The touch of a paid order from the evidence it keeps: the winning binding's channel and
    how it was reached, or a checkout code; UTM from the visit that made the binding, else
    the order's own campaign."""
    evidence = attribution.get("attribution") or {}
    winner = evidence.get("winner") if isinstance(evidence, dict) else None
    channel_id = reached_by = None
    if winner == "binding":
        binding = evidence.get("binding") or {}
        channel_id = binding.get("channel_id")
        reached_by = binding.get("reached_by")
    elif winner == "coupon":
        reached_by = "code"
    return Touch(
        promoter_id=promoter_id,
        site_id=site_id,
        channel_id=channel_id,
        utm_source=visit.utm_source if visit else None,
        utm_medium=visit.utm_medium if visit else None,
        utm_campaign=(visit.utm_campaign if visit and visit.utm_campaign else campaign),
        reached_by=reached_by,
    )


def order_visit_id(attribution: Mapping[str, Any]) -> int | None:
    """The visit that made the binding an order was attributed through, if any."""
    evidence = attribution.get("attribution") or {}
    if not isinstance(evidence, dict) or evidence.get("winner") != "binding":
        return None
    visit_id = (evidence.get("binding") or {}).get("visit_id")
    return int(visit_id) if visit_id is not None else None
