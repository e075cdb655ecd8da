"""Staff approve an application and read an order's explanation in a real browser."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import expect

from tests.browser import scenes
from tests.browser.conftest import ConsolePage
from tests.e2e.test_server_process import ADMIN_PASSWORD


def test_staff_approve_an_application_and_see_how_an_order_earned(
    console: ConsolePage, admin_api: httpx.Client
) -> None:
    shop, _, applicant = scenes.team_of_two(admin_api, "审核测试店", "甲推广员", "乙推广员")

    console.sign_in("root", ADMIN_PASSWORD)
    console.goto(f"/console/applications?program_id={shop['id']}")
    console.page.get_by_role("checkbox", name=f"选择 {applicant['id']}").check()
    console.shoot("applications")
    console.page.get_by_role("button", name="批量通过").click()
    expect(console.page.get_by_role("status")).to_have_text("已保存。")
    expect(console.page.get_by_role("cell", name="乙推广员")).to_have_count(0)

    # The newly approved promoter buys: their upline earns level 1 at 10%.
    scenes.paid_order(
        admin_api,
        scenes.store_key(admin_api, shop["id"]),
        "BROWSER-1",
        applicant["openid"],
        "100.00",
    )
    console.goto(f"/console/orders?program_id={shop['id']}")
    expect(console.page.get_by_role("cell", name="¥100.00").first).to_be_visible()
    console.shoot("orders")
    console.page.get_by_role("link", name=re.compile(r"^\d+$")).first.click()
    expect(console.page.get_by_text("10% × 100.00")).to_be_visible()
    expect(console.page.get_by_role("heading", name=re.compile("¥10.00"))).to_be_visible()
    console.shoot("order-explanation")

    console.goto(f"/console/commissions/review?program_id={shop['id']}")
    expect(console.page.get_by_role("cell", name="¥10.00")).to_be_visible()
    console.shoot("commission-review")
    console.goto(f"/console/commissions?program_id={shop['id']}")
    console.shoot("commissions")
    assert console.problems == []
