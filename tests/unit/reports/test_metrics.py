"""Every ratio comes from the same sums, with hand-computed expectations."""

from __future__ import annotations

from decimal import Decimal

from server.domain.reports.metrics import Figures, Sums, as_json, derived, money_places

D = Decimal


def _sums(**values: object) -> Sums:
    sums = Sums()
    for column, amount in values.items():
        sums.add(column, amount)  # type: ignore[arg-type]
    return sums


def test_every_ratio_is_computed_from_the_same_sums() -> None:
    sums = _sums(
        visits=200,
        bot_visits=50,
        orders=8,
        gmv=D("1000.00"),
        refunds=D("200.00"),
        net_sales=D("800.00"),
        commission_amount_pending=D("40.00"),
        commission_amount_settled=D("40.00"),
        commission_amount_reversed=D("15.00"),
    )
    figures = Figures(sums=sums, unique_visitors=160, spend=D("120.00"))
    assert derived(figures, money_places=money_places(2)) == {
        "conversion_rate": D("0.0500"),  # 8 orders ÷ 160 unique visitors
        "average_order_value": D("100.00"),  # 800 net ÷ 8 orders
        "commission_cost_ratio": D("0.1000"),  # 80 live commissions ÷ 800 net
        "revenue_per_click": D("4.00"),  # 800 ÷ 200 human visits (bots left out)
        "commission_per_click": D("0.40"),  # EPC: 80 ÷ 200
        "roi": D("3.0000"),  # (800 − 80 − 120) ÷ (80 + 120)
    }


def test_bots_are_left_out_of_every_rate() -> None:
    with_bots = _sums(visits=100, bot_visits=900, net_sales=D("50.00"))
    without = _sums(visits=100, net_sales=D("50.00"))
    places = money_places(2)
    assert derived(Figures(with_bots, 10), money_places=places) == derived(
        Figures(without, 10), money_places=places
    )


def test_a_ratio_over_nothing_is_null_not_zero() -> None:
    ratios = derived(Figures(Sums(), 0), money_places=money_places(2))
    assert set(ratios.values()) == {None}


def test_rates_round_half_up_to_four_places_and_money_to_the_minor_unit() -> None:
    sums = _sums(visits=3, orders=1, net_sales=D("10.00"))
    ratios = derived(Figures(sums, unique_visitors=3), money_places=money_places(0))
    assert ratios["conversion_rate"] == D("0.3333")
    assert ratios["revenue_per_click"] == D("3")  # JPY: 10 ÷ 3 = 3.33… → 3


def test_the_settled_commissions_of_the_funnel_are_settled_plus_paid() -> None:
    sums = _sums(
        commissions_settled=2,
        commissions_paid=1,
        commission_amount_settled=D("5.00"),
        commission_amount_paid=D("2.50"),
        commissions_pending=4,
    )
    body = as_json(Figures(sums, 0), exponent=2)
    assert body["settled_commissions"] == {"count": 3, "amount": "7.50"}
    assert body["commissions"] == "7.50"
