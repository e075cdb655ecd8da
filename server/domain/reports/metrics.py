"""The one set of metric definitions (docs/reports.md): additive sums and every ratio computed
from them, so no report computes a rate its own way."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

# Commission statuses in the order a commission moves through them.
COMMISSION_STATUSES = ("pending", "approved", "settled", "paid", "rejected", "reversed")
# Statuses whose amount is still owed or paid: the program's commission cost.
LIVE_STATUSES = ("pending", "approved", "settled", "paid")
# Rates (conversion, cost ratio, ROI) carry four decimals: 0.1234 = 12.34%.
RATE_PLACES = Decimal("0.0001")
ZERO = Decimal(0)

# The additive columns of a rollup row, in storage order (see server/models/report.py).
COUNT_COLUMNS = ("visits", "bot_visits", "bindings", "orders")
MONEY_COLUMNS = ("gmv", "refunds", "net_sales")
COMMISSION_COUNT_COLUMNS = tuple(f"commissions_{s}" for s in COMMISSION_STATUSES)
COMMISSION_AMOUNT_COLUMNS = tuple(f"commission_amount_{s}" for s in COMMISSION_STATUSES)
ROLLUP_COLUMNS = (
    COUNT_COLUMNS + MONEY_COLUMNS + COMMISSION_COUNT_COLUMNS + COMMISSION_AMOUNT_COLUMNS
)
INTEGER_COLUMNS = frozenset(COUNT_COLUMNS + COMMISSION_COUNT_COLUMNS)


def _zero(column: str) -> int | Decimal:
    return 0 if column in INTEGER_COLUMNS else ZERO


@dataclass
class Sums:
    """Additive figures of one bucket and dimension value (a rollup row), or of many summed."""

    values: dict[str, Any] = field(default_factory=lambda: {c: _zero(c) for c in ROLLUP_COLUMNS})

    def add(self, column: str, amount: int | Decimal) -> None:
        self.values[column] += amount

    def merge(self, other: Sums) -> None:
        for column in ROLLUP_COLUMNS:
            self.values[column] += other.values[column]

    def __getitem__(self, column: str) -> Any:
        return self.values[column]

    def is_empty(self) -> bool:
        return not any(self.values.values())


@dataclass(frozen=True)
class Figures:
    """Sums plus what cannot be summed (unique visitors) and what is recorded apart (spend)."""

    sums: Sums
    unique_visitors: int
    spend: Decimal | None = None


_LIVE_AMOUNTS = tuple(f"commission_amount_{s}" for s in LIVE_STATUSES)
# (status, its count column, its amount column), as as_json lists them.
_BY_STATUS = tuple((s, f"commissions_{s}", f"commission_amount_{s}") for s in COMMISSION_STATUSES)


def commissions(sums: Sums) -> Decimal:
    """The commission cost: amounts of live commissions (pending, approved, settled, paid)."""
    values = sums.values
    return sum((values[column] for column in _LIVE_AMOUNTS), ZERO)


def settled_commissions(sums: Sums) -> tuple[int, Decimal]:
    """Commissions credited to a balance (settled, or settled then paid): count and amount."""
    count = sums["commissions_settled"] + sums["commissions_paid"]
    return count, sums["commission_amount_settled"] + sums["commission_amount_paid"]


def ratio(numerator: Decimal | int, denominator: Decimal | int, places: Decimal) -> Decimal | None:
    """numerator ÷ denominator rounded half up to `places`; None when the denominator is 0."""
    if not denominator:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(places, rounding=ROUND_HALF_UP)


def derived(figures: Figures, *, money_places: Decimal) -> dict[str, Decimal | None]:
    """Every ratio of docs/reports.md from the same sums; None where the denominator is 0."""
    return _derived(figures, money_places, commissions(figures.sums))


def _derived(figures: Figures, places: Decimal, cost: Decimal) -> dict[str, Decimal | None]:
    sums = figures.sums.values
    human_visits, net_sales, orders = sums["visits"], sums["net_sales"], sums["orders"]
    result: dict[str, Decimal | None] = {
        "conversion_rate": ratio(orders, figures.unique_visitors, RATE_PLACES),
        "average_order_value": ratio(net_sales, orders, places),
        "commission_cost_ratio": ratio(cost, net_sales, RATE_PLACES),
        "revenue_per_click": ratio(net_sales, human_visits, places),
        "commission_per_click": ratio(cost, human_visits, places),
        "roi": None,
    }
    if figures.spend is not None:
        result["roi"] = ratio(net_sales - cost - figures.spend, cost + figures.spend, RATE_PLACES)
    return result


@functools.cache
def money_places(exponent: int) -> Decimal:
    """The quantum of a currency with `exponent` minor digits (2 → 0.01, 0 → 1)."""
    return Decimal(1).scaleb(-exponent)


def as_json(figures: Figures, *, exponent: int) -> dict[str, Any]:
    """One figure set as the API shows it: sums, unique visitors, commissions and ratios."""
    sums = figures.sums.values
    places = money_places(exponent)
    cost = commissions(figures.sums)
    settled_count, settled_amount = settled_commissions(figures.sums)
    body: dict[str, Any] = {
        "visits": sums["visits"],
        "bot_visits": sums["bot_visits"],
        "unique_visitors": figures.unique_visitors,
        "bindings": sums["bindings"],
        "orders": sums["orders"],
        "gmv": _money(sums["gmv"], places),
        "refunds": _money(sums["refunds"], places),
        "net_sales": _money(sums["net_sales"], places),
        "commissions": _money(cost, places),
        "commissions_by_status": {
            status: {"count": sums[count], "amount": _money(sums[amount], places)}
            for status, count, amount in _BY_STATUS
        },
        "settled_commissions": {"count": settled_count, "amount": _money(settled_amount, places)},
        "spend": None if figures.spend is None else _money(figures.spend, places),
    }
    for name, value in _derived(figures, places, cost).items():
        body[name] = None if value is None else str(value)
    return body


def _money(amount: Decimal, places: Decimal) -> str:
    return str(Decimal(amount).quantize(places))


@dataclass(frozen=True)
class CustomerSums:
    """The buyers of a range: how many, how many first bought then, how many bought twice or
    more, and their orders and net sales."""

    buyers: int
    new_buyers: int
    repeat_buyers: int
    orders: int
    net_sales: Decimal


def customers_json(sums: CustomerSums, *, exponent: int) -> dict[str, Any]:
    """New vs returning buyers, repeat-purchase rate, orders and net sales per customer."""
    places = money_places(exponent)
    averages = {
        "repeat_purchase_rate": ratio(sums.repeat_buyers, sums.buyers, RATE_PLACES),
        "orders_per_customer": ratio(sums.orders, sums.buyers, Decimal("0.01")),
        "net_sales_per_customer": ratio(sums.net_sales, sums.buyers, places),
    }
    return {
        "buyers": sums.buyers,
        "new_buyers": sums.new_buyers,
        "returning_buyers": sums.buyers - sums.new_buyers,
        "repeat_buyers": sums.repeat_buyers,
        "orders": sums.orders,
        "net_sales": _money(sums.net_sales, places),
        **{name: None if value is None else str(value) for name, value in averages.items()},
    }


def lifetime_value(customers: int, net_sales: Decimal, *, exponent: int) -> Decimal | None:
    """LTV: the net sales to date of the customers acquired, per customer."""
    return ratio(net_sales, customers, money_places(exponent))
