"""Tiers in a real browser: staff add a tier, see it listed, and lock a promoter into it by
hand; the history shows the change."""

from __future__ import annotations

import httpx
from playwright.sync_api import expect

from tests.browser import scenes
from tests.browser.conftest import ConsolePage
from tests.e2e.test_server_process import ADMIN_PASSWORD


def test_staff_add_a_tier_and_lock_a_promoter_into_it(
    console: ConsolePage, admin_api: httpx.Client
) -> None:
    shop = scenes.program(admin_api, "等级店")
    member = scenes.application(admin_api, shop["id"], "等级推广员")
    scenes.approve(admin_api, member["id"])
    console.sign_in("root", ADMIN_PASSWORD)
    page = console.page
    console.goto(f"/console/tiers?program_id={shop['id']}")
    expect(page.get_by_role("heading", name="等级", exact=True)).to_be_visible()
    form = page.locator("#new-tier")
    form.locator("input[name=code]").fill("gold")
    form.locator("input[name=name]").fill("金牌")
    form.locator("input[name=rank]").fill("3")
    form.locator("input[name=min_net_sales]").fill("1000")
    form.locator("input[name=level_rates]").fill("1=12")
    form.get_by_role("button", name="创建").click()
    expect(page.locator("#tiers")).to_contain_text("金牌")
    expect(page.locator("#tiers")).to_contain_text("¥1,000.00")
    console.shoot("tiers")

    console.goto(f"/console/promoters/{member['id']}")
    tier = page.locator("#tier")
    tier.locator("input[name=tier]").fill("gold")
    tier.locator("input[name=lock]").check()
    tier.locator("input[name=reason]").fill("重点客户")
    tier.get_by_role("button", name="设置等级").click()
    expect(page.get_by_role("heading", name="等级: gold · 已手动锁定")).to_be_visible()
    expect(page.locator("#tier-history")).to_contain_text("重点客户")
    assert console.problems == []
