"""The dashboard in a real browser: figures, the trend drawn as inline SVG with the previous
period, a breakdown tab and a range picked in the form; no script error or CSP violation."""

from __future__ import annotations

import httpx
from playwright.sync_api import expect

from tests.browser import scenes
from tests.browser.conftest import ConsolePage
from tests.e2e.test_server_process import ADMIN_PASSWORD


def test_the_dashboard_draws_its_charts_and_switches_range_and_breakdown(
    console: ConsolePage, admin_api: httpx.Client
) -> None:
    shop = scenes.program(admin_api, "看板店")
    promoter = scenes.application(admin_api, shop["id"], "看板推广员")
    scenes.approve(admin_api, promoter["id"])
    console.sign_in("root", ADMIN_PASSWORD)
    console.goto(f"/console/dashboard?program_id={shop['id']}")
    page = console.page
    expect(page.get_by_role("heading", name="概览", exact=True)).to_be_visible()
    expect(page.locator("#trend svg.chart polyline.current")).to_have_count(1)
    expect(page.locator("#trend svg.chart polyline.previous")).to_have_count(1)
    expect(page.locator("[data-figure=net_sales] strong")).to_have_text("¥0.00")
    expect(page.locator("#funnel table.bars tr")).to_have_count(5)
    console.shoot("dashboard")

    page.locator("#breakdown .tabs").get_by_role("link", name="UTM 来源").click()
    expect(page.locator("#breakdown .tabs strong")).to_have_text("UTM 来源")
    page.select_option("select[name=preset]", "last_30_days")
    page.select_option("select[name=metric]", "visits")
    page.get_by_role("button", name="查看").click()
    expect(page.locator("select[name=preset]")).to_have_value("last_30_days")
    expect(page.locator("#trend h2")).to_contain_text("访问次数")
    # 30 days: one point per day on each line
    points = page.locator("#trend polyline.current").get_attribute("points") or ""
    assert len(points.split()) == 30
    expect(page.locator("#breakdown .tabs strong")).to_have_text("UTM 来源")

    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("heading", name="Dashboard", exact=True)).to_be_visible()
    console.goto(f"/console/reports/customers?program_id={shop['id']}")
    expect(page.get_by_role("heading", name="Customers", exact=True)).to_be_visible()
    console.shoot("customers")
    assert console.problems == []
