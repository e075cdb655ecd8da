"""The dashboard and customers pages: the reports' figures beside the previous period, charts
drawn as inline SVG in the page, CSVs from the API's export services."""

from __future__ import annotations

import re

from sanic import Sanic

from tests.api.console.client import Console, signed_in
from tests.order_builders import shop
from tests.report_builders import day_in_shanghai
from tests.scope_world import build_world, limited_account

DAY = "preset=custom&from=2026-03-02&to=2026-03-02"
REPORT_PAGES = (
    "/console/dashboard",
    "/console/reports/customers",
    "/console/reports/overview.csv",
    "/console/reports/funnel.csv",
    "/console/reports/breakdown.csv",
    "/console/reports/top-promoters.csv",
    "/console/reports/customers.csv",
)


async def test_the_dashboard_shows_each_figure_beside_the_day_before_and_draws_the_trend(
    app: Sanic,
) -> None:
    program, top, _nearest = await day_in_shanghai()
    console = await signed_in(app, "finance", username="dash_finance")
    page = await console.get(f"/console/dashboard?program_id={program.id}&{DAY}&metric=visits")
    assert page.status_code == 200, page.text
    html = page.text
    net_sales = re.search(r'data-figure="net_sales">(.*?)</div>', html, re.S)
    assert net_sales and "¥80.00" in net_sales.group(1)  # gmv 100 less a 20 refund
    visits = re.search(r'data-figure="visits">(.*?)</div>', html, re.S)
    assert visits and "<strong>4</strong>" in visits.group(1)
    assert "上期: 1" in visits.group(1) and "+300%" in visits.group(1)  # 1 visit the day before
    # 24 hours drawn as two polylines (the day and the day before) in the page itself
    current = re.search(r'<polyline class="line current" points="([^"]+)"', html)
    assert current and len(current.group(1).split()) == 24
    assert '<polyline class="line previous"' in html
    assert "<script" not in html.split("</head>", 1)[1]  # charts need no script
    assert f'href="/console/promoters/{top.id}"' in html  # top promoters link to the page
    assert "/console/reports/overview.csv?" in html
    await console.close()


async def test_a_breakdown_tab_shows_one_dimension_with_its_previous_period(app: Sanic) -> None:
    program, _top, _nearest = await day_in_shanghai()
    console = await signed_in(app, "staff", username="dash_staff")
    page = await console.get(
        f"/console/dashboard?program_id={program.id}&{DAY}&dimension=utm_source"
    )
    assert page.status_code == 200
    section = page.text.split('id="breakdown"', 1)[1]
    assert "<strong>UTM 来源</strong>" in section
    refused = await console.get(f"/console/dashboard?program_id={program.id}&dimension=nope")
    assert refused.status_code == 422
    await console.close()


async def test_the_dashboard_csvs_are_the_reports_exports(app: Sanic) -> None:
    program, _top, _nearest = await day_in_shanghai()
    console = await signed_in(app, "finance", username="dash_csv")
    for name in ("overview", "funnel", "breakdown", "top-promoters", "customers"):
        response = await console.get(f"/console/reports/{name}.csv?program_id={program.id}&{DAY}")
        assert response.status_code == 200, (name, response.text[:300])
        assert response.headers["content-type"].startswith("text/csv")
    overview = await console.get(f"/console/reports/overview.csv?program_id={program.id}&{DAY}")
    assert "80.00" in overview.text
    await console.close()


async def test_an_empty_program_shows_an_empty_dashboard_not_an_error(app: Sanic) -> None:
    program = await shop()
    console = await signed_in(app, "staff", username="dash_empty")
    for path in ("/console/dashboard", "/console/reports/customers"):
        page = await console.get(f"{path}?program_id={program.id}")
        assert page.status_code == 200, page.text
    await console.close()


async def test_the_customers_page_shows_buyers_and_lifetime_values(app: Sanic) -> None:
    program, _top, _nearest = await day_in_shanghai()
    console = await signed_in(app, "staff", username="dash_customers")
    page = await console.get(
        f"/console/reports/customers?program_id={program.id}&{DAY}&ltv_by=channel"
    )
    assert page.status_code == 200, page.text
    assert 'id="customer-totals"' in page.text
    await console.close()


async def test_a_limited_account_sees_no_other_programs_reports(app: Sanic) -> None:
    mine, theirs = await build_world(), await build_world()
    await limited_account("dash_limited", mine.program, roles=("staff", "finance"))
    console = Console(app)
    assert (await console.sign_in("dash_limited")).status_code == 303
    for path in REPORT_PAGES:
        own = await console.get(f"{path}?program_id={mine.program.id}")
        assert own.status_code == 200, path
        other = await console.get(f"{path}?program_id={theirs.program.id}")
        assert other.status_code == 404, path
    first = await console.get("/console/dashboard")  # no program named: its own
    assert first.status_code == 200 and f'value="{theirs.program.id}"' not in first.text
    await console.close()
