"""A simulation's arithmetic: each commission an order paid next to what a rule-set version
would have paid, summed by level, promoter, product and tier, and the orders that change
most (docs/rule-sets.md#simulation)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from server.domain.commissions.lines import CommissionLine
from server.domain.money import money_text

NO_TIER = "-"


@dataclass(frozen=True, kw_only=True)
class PaidCommission:
    """A commission as it stands: what the order pays a promoter at a level of one line."""

    line_id: str
    level: int
    promoter_id: int
    tier: str | None
    amount: Decimal


@dataclass(frozen=True, kw_only=True)
class ComparedLine:
    """One (order line, level): what was paid and what the version would pay."""

    order_id: int
    external_id: str
    line_id: str
    product_id: str
    level: int
    promoter_id: int
    tier: str | None
    paid: Decimal
    simulated: Decimal

    @property
    def difference(self) -> Decimal:
        return self.simulated - self.paid


def compare_order(
    *,
    order_id: int,
    external_id: str,
    products: Mapping[str, str],
    paid: Sequence[PaidCommission],
    simulated: Sequence[CommissionLine],
) -> list[ComparedLine]:
    """Each (line, level) either side has, paid next to simulated (0 where a side has none)."""
    compared: dict[tuple[str, int], ComparedLine] = {}
    for commission in paid:
        compared[(commission.line_id, commission.level)] = ComparedLine(
            order_id=order_id,
            external_id=external_id,
            line_id=commission.line_id,
            product_id=products.get(commission.line_id, ""),
            level=commission.level,
            promoter_id=commission.promoter_id,
            tier=commission.tier,
            paid=commission.amount,
            simulated=Decimal(0),
        )
    for line in simulated:
        key = (line.line_id, line.level)
        before = compared.get(key)
        compared[key] = ComparedLine(
            order_id=order_id,
            external_id=external_id,
            line_id=line.line_id,
            product_id=products.get(line.line_id, ""),
            level=line.level,
            promoter_id=line.promoter_id,
            tier=before.tier if before is not None else _tier_of(line),
            paid=before.paid if before is not None else Decimal(0),
            simulated=line.amount,
        )
    return [compared[key] for key in sorted(compared)]


def _tier_of(line: CommissionLine) -> str | None:
    tier = line.explanation.get("beneficiary", {}).get("tier")
    return str(tier) if tier is not None else None


def figures(paid: Decimal, simulated: Decimal, currency: str) -> dict[str, str]:
    return {
        "paid": money_text(paid, currency),
        "simulated": money_text(simulated, currency),
        "difference": money_text(simulated - paid, currency),
    }


def _grouped(
    lines: Iterable[ComparedLine], key: Callable[[ComparedLine], Any], name: str, currency: str
) -> list[dict[str, Any]]:
    sums: dict[Any, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for line in lines:
        pair = sums[key(line)]
        pair[0] += line.paid
        pair[1] += line.simulated
    return [
        {name: group, **figures(paid, simulated, currency)}
        for group, (paid, simulated) in sorted(sums.items(), key=lambda item: str(item[0]))
    ]


def summarize(lines: Sequence[ComparedLine], *, currency: str, top: int) -> dict[str, Any]:
    """Totals, totals by level, promoter, product and tier, and the `top` orders whose
    commissions change most (by absolute difference, then order id), JSON-safe."""
    paid = sum((line.paid for line in lines), Decimal(0))
    simulated = sum((line.simulated for line in lines), Decimal(0))
    orders: dict[int, list[ComparedLine]] = defaultdict(list)
    for line in lines:
        orders[line.order_id].append(line)
    changes = sorted(
        (
            (abs(sum((line.difference for line in order), Decimal(0))), order_id)
            for order_id, order in orders.items()
        ),
        key=lambda item: (-item[0], item[1]),
    )
    top_orders = []
    for _size, order_id in changes[:top]:
        order = orders[order_id]
        order_paid = sum((line.paid for line in order), Decimal(0))
        order_simulated = sum((line.simulated for line in order), Decimal(0))
        top_orders.append(
            {
                "order_id": order_id,
                "external_id": order[0].external_id,
                **figures(order_paid, order_simulated, currency),
            }
        )
    return {
        "currency": currency,
        "totals": figures(paid, simulated, currency),
        "by_level": _grouped(lines, lambda line: line.level, "level", currency),
        "by_promoter": _grouped(lines, lambda line: line.promoter_id, "promoter_id", currency),
        "by_product": _grouped(lines, lambda line: line.product_id, "product_id", currency),
        "by_tier": _grouped(lines, lambda line: line.tier or NO_TIER, "tier", currency),
        "top_orders": top_orders,
    }
