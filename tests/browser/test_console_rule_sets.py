"""Staff draft a rate change, simulate it against what was paid, publish it, and the next
order names the new rule-set version, in a real browser."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import httpx
from playwright.sync_api import expect

from tests.browser import scenes
from tests.browser.conftest import ConsolePage
from tests.e2e.test_server_process import ADMIN_PASSWORD


def _order_id(admin: httpx.Client, program_id: int, external_id: str) -> int:
    found = admin.get("/admin/v1/orders", params={"program_id": program_id, "limit": 50})
    assert found.status_code == 200, found.text
    return next(o["id"] for o in found.json()["items"] if o["external_id"] == external_id)


def test_staff_draft_simulate_and_publish_a_rate_and_the_next_order_names_it(
    console: ConsolePage, admin_api: httpx.Client
) -> None:
    shop, _upline, buyer = scenes.team_of_two(admin_api, "版本测试店", "甲推广员", "乙推广员")
    scenes.approve(admin_api, buyer["id"])
    key = scenes.store_key(admin_api, shop["id"])
    scenes.paid_order(admin_api, key, "RULES-1", buyer["openid"], "100.00")
    today = datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).date().isoformat()

    console.sign_in("root", ADMIN_PASSWORD)
    console.goto(f"/console/programs/{shop['id']}")
    console.page.locator("#rule-set-versions").click()
    console.page.get_by_role("button", name="新建草稿").click()
    expect(console.page.get_by_role("heading", name="规则集版本 2 · 草稿")).to_be_visible()

    new_rule = console.page.locator("#draft-new-rule")
    new_rule.get_by_label("数值").fill("abc")
    new_rule.get_by_label("层级").fill("1")
    new_rule.get_by_role("button", name="添加规则").click()
    # Refused beside the field, nothing added.
    expect(console.page.locator("#draft-new-rule .field-error")).to_be_visible()
    new_rule = console.page.locator("#draft-new-rule")
    new_rule.get_by_label("数值").fill("20")
    new_rule.get_by_label("层级").fill("1")
    new_rule.get_by_role("button", name="添加规则").click()
    expect(console.page.locator("#draft-rules")).to_contain_text("20")

    simulate = console.page.locator("#simulate")
    simulate.get_by_label("开始日期（当地）").fill(today)
    simulate.get_by_label("结束日期（当地）").fill(today)
    simulate.get_by_role("button", name="模拟").click()
    expect(console.page.locator("#simulation-difference")).to_have_text("¥10.00")
    expect(console.page.locator("#simulation-orders")).to_contain_text("RULES-1")
    console.shoot("rule-set-simulation")

    console.page.locator("#publish").get_by_role("button", name="发布").click()
    expect(console.page.get_by_role("status")).to_have_text("已发布：新订单按此版本计算。")

    scenes.paid_order(admin_api, key, "RULES-2", buyer["openid"], "100.00")
    console.goto(f"/console/orders/{_order_id(admin_api, shop['id'], 'RULES-2')}")
    expect(console.page.get_by_text("20% × 100.00")).to_be_visible()
    expect(console.page.locator("dl.explain").first).to_contain_text("规则集版本")
    console.goto(f"/console/orders/{_order_id(admin_api, shop['id'], 'RULES-1')}")
    expect(console.page.get_by_text("10% × 100.00")).to_be_visible()
    assert [p for p in console.problems if "422" not in p] == []
