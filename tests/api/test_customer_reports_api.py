"""The customers report with hand-computed figures: new vs returning buyers, the repeat
rate, per-customer averages and the LTV of the customers each promoter brought."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from server.services.reports.rollups import refresh_reports
from tests.api.conftest import Api
from tests.order_builders import bind, customer, line, paid, promoter, refunded, send_ok, shop

WEEK = {"from": "2026-03-01", "to": "2026-03-07"}  # local days in Shanghai
MARCH_3 = datetime(2026, 3, 3, 4, tzinfo=UTC)


async def test_customers_are_new_or_returning_and_promoters_are_credited_their_ltv(
    api: Api,
) -> None:
    """A first bought on 25 February (the previous week) and again in the week; B bought
    twice (100 + 20) through p2; C once (40, 10 refunded) through p1."""
    program = await shop(time_zone="Asia/Shanghai")
    p1, p2 = await promoter(program), await promoter(program)
    a, b, c = await customer("Ann"), await customer("Bo"), await customer("Cy")
    await bind(program, p1, user=a, at=datetime(2026, 2, 20, tzinfo=UTC))
    await bind(program, p2, user=b, at=datetime(2026, 3, 1, tzinfo=UTC))
    await bind(program, p1, user=c, at=datetime(2026, 3, 1, tzinfo=UTC))
    orders = [
        ("A1", a, "50.00", datetime(2026, 2, 25, 4, tzinfo=UTC)),
        ("A2", a, "30.00", MARCH_3),
        ("B1", b, "100.00", MARCH_3),
        ("B2", b, "20.00", MARCH_3 + timedelta(days=1)),
        ("C1", c, "40.00", MARCH_3),
    ]
    for name, buyer, amount, at in orders:
        await send_ok(program, paid(name, line("L1", amount), buyer=buyer, placed_at=at))
    await send_ok(program, refunded("C1", lines={"L1": "10.00"}, at=MARCH_3 + timedelta(hours=1)))
    await refresh_reports()

    token = await api.staff_token("finance", username="customers_finance")
    path = f"/admin/v1/programs/{program.id}/reports/customers"
    response = await api.get(path, token=token, params=WEEK)
    assert response.status == 200, response.text
    body = response.json
    assert body["totals"] == {
        "buyers": 3,
        "new_buyers": 2,  # B and C first bought this week
        "returning_buyers": 1,  # A
        "repeat_buyers": 1,  # B
        "orders": 4,
        "net_sales": "180.00",  # 30 + 120 + 30
        "repeat_purchase_rate": "0.3333",
        "orders_per_customer": "1.33",
        "net_sales_per_customer": "60.00",
    }
    assert (body["previous_totals"]["buyers"], body["previous_totals"]["new_buyers"]) == (1, 1)
    assert body["lifetime_values"] == [
        {
            "value": str(p2.id),
            "customers": 1,
            "orders": 2,
            "net_sales_to_date": "120.00",
            "lifetime_value": "120.00",
        },
        {
            "value": str(p1.id),
            "customers": 1,
            "orders": 1,
            "net_sales_to_date": "30.00",
            "lifetime_value": "30.00",
        },
    ]
    exported = await api.get(f"{path}.csv", token=token, params=WEEK)
    rows = list(csv.reader(io.StringIO(exported.text.removeprefix("\ufeff"))))
    assert rows == [
        ["promoter", "customers", "orders", "net_sales_to_date", "lifetime_value"],
        [str(p2.id), "1", "2", "120.00", "120.00"],
        [str(p1.id), "1", "1", "30.00", "30.00"],
    ]


async def test_the_customers_report_refuses_an_ltv_dimension_without_customers(
    api: Api,
) -> None:
    program = await shop()
    token = await api.staff_token("staff", username="customers_staff")
    response = await api.get(
        f"/admin/v1/programs/{program.id}/reports/customers",
        token=token,
        params={"ltv_by": "product"},
    )
    assert response.status == 422
    assert response.json["error"]["code"] == "invalid_dimension"
