"""A simulation's summary: each (line, level) paid next to simulated, summed by level,
promoter, product and tier, and the orders whose commissions change most, in the currency."""

from __future__ import annotations

from decimal import Decimal

from server.domain.commissions.simulation import (
    ComparedLine,
    PaidCommission,
    compare_order,
    summarize,
)


def _line(order_id: int, level: int, paid: str, simulated: str, **extra: object) -> ComparedLine:
    fields = {
        "order_id": order_id,
        "external_id": f"O-{order_id}",
        "line_id": "L1",
        "product_id": "SKU-1",
        "level": level,
        "promoter_id": 10 + level,
        "tier": None,
        "paid": Decimal(paid),
        "simulated": Decimal(simulated),
        **extra,
    }
    return ComparedLine(**fields)  # type: ignore[arg-type]


def test_totals_and_groups_show_paid_simulated_and_the_difference() -> None:
    lines = [
        _line(1, 1, "10.00", "20.00"),
        _line(1, 2, "5.00", "5.00", tier="gold"),
        _line(2, 1, "3.00", "0", product_id="SKU-2"),
    ]

    summary = summarize(lines, currency="CNY", top=5)

    assert summary["totals"] == {"paid": "18.00", "simulated": "25.00", "difference": "7.00"}
    assert summary["by_level"] == [
        {"level": 1, "paid": "13.00", "simulated": "20.00", "difference": "7.00"},
        {"level": 2, "paid": "5.00", "simulated": "5.00", "difference": "0.00"},
    ]
    assert [row["tier"] for row in summary["by_tier"]] == ["-", "gold"]
    assert [row["product_id"] for row in summary["by_product"]] == ["SKU-1", "SKU-2"]


def test_the_orders_that_change_most_come_first_by_absolute_difference() -> None:
    lines = [
        _line(1, 1, "10.00", "11.00"),
        _line(2, 1, "10.00", "2.00"),
        _line(3, 1, "10.00", "10.00"),
    ]

    top = summarize(lines, currency="CNY", top=2)["top_orders"]

    assert [(row["order_id"], row["difference"]) for row in top] == [(2, "-8.00"), (1, "1.00")]


def test_yen_amounts_have_no_decimals() -> None:
    summary = summarize([_line(1, 1, "100", "150")], currency="JPY", top=1)

    assert summary["totals"] == {"paid": "100", "simulated": "150", "difference": "50"}


def test_a_commission_only_one_side_has_counts_zero_on_the_other() -> None:
    paid = [PaidCommission(line_id="L1", level=2, promoter_id=7, tier=None, amount=Decimal(5))]

    compared = compare_order(
        order_id=1, external_id="O-1", products={"L1": "SKU"}, paid=paid, simulated=[]
    )

    assert [(c.level, c.paid, c.simulated, c.product_id) for c in compared] == [
        (2, Decimal(5), Decimal(0), "SKU")
    ]
