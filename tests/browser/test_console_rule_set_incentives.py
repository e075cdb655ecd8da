"""Staff draft a tier, a boost and a milestone bonus (a bad value refused beside its field),
disable the boost, and the simulation shows the bonus it would award; an admin requires the
tax profile before withdrawals on the program page; in a real browser."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
from playwright.sync_api import expect

from tests.browser import scenes
from tests.browser.conftest import ConsolePage
from tests.e2e.test_server_process import ADMIN_PASSWORD


def test_staff_draft_incentives_and_see_the_bonus_a_simulation_awards(
    console: ConsolePage, admin_api: httpx.Client
) -> None:
    shop, _upline, buyer = scenes.team_of_two(admin_api, "激励草稿店", "丙推广员", "丁推广员")
    scenes.approve(admin_api, buyer["id"])
    key = scenes.store_key(admin_api, shop["id"])
    scenes.paid_order(admin_api, key, "BONUS-1", buyer["openid"], "100.00")
    today = datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).date()
    tomorrow = today + timedelta(days=1)

    console.sign_in("root", ADMIN_PASSWORD)
    console.goto(f"/console/programs/{shop['id']}")
    settings = console.page.locator("#withdrawal-settings")
    settings.get_by_label("提现前须填写真实姓名和税号").select_option("1")
    settings.get_by_role("button", name="保存").click()
    expect(console.page.locator("#withdrawal-settings select")).to_have_value("1")

    console.page.locator("#rule-set-versions").click()
    console.page.get_by_role("button", name="新建草稿").click()
    expect(console.page.get_by_role("heading", name="规则集版本 2 · 草稿")).to_be_visible()

    tier = console.page.locator("#draft-new-tier")
    tier.get_by_label("代码").fill("gold")
    tier.get_by_label("级别（越高越好）").fill("2")
    tier.get_by_label("考核周期（天）").fill("30")
    tier.get_by_label("净销售额不低于").fill("1000")
    tier.get_by_role("button", name="添加等级").click()
    expect(console.page.locator("#draft-tiers")).to_contain_text("gold")

    boost = console.page.locator("#draft-new-boost")
    boost.get_by_label("倍数（1 到 3）").fill("1.5")
    boost.get_by_label("开始时间").fill(f"{today}T00:00")
    boost.get_by_label("结束时间（不含）").fill(f"{tomorrow}T00:00")
    boost.get_by_role("button", name="添加加成").click()
    row = console.page.locator("#draft-boosts tbody tr").first
    row.get_by_label("启用").select_option("0")
    row.get_by_role("button", name="保存").click()
    expect(console.page.locator("#draft-boosts tbody tr").first).to_contain_text("已禁用")

    bonus = console.page.locator("#draft-new-bonus")
    bonus.get_by_label("姓名").fill("今日冲刺")
    bonus.get_by_label("净销售额目标").fill("abc")
    bonus.get_by_label("奖励金额").fill("25.00")
    bonus.get_by_label("开始时间").fill(f"{today}T00:00")
    bonus.get_by_label("结束时间（不含）").fill(f"{tomorrow}T00:00")
    bonus.get_by_role("button", name="添加奖励").click()
    # Refused beside the field, what was typed kept.
    expect(console.page.locator("#draft-new-bonus .field-error")).to_be_visible()
    bonus = console.page.locator("#draft-new-bonus")
    expect(bonus.get_by_label("奖励金额")).to_have_value("25.00")
    bonus.get_by_label("净销售额目标").fill("50.00")
    bonus.get_by_role("button", name="添加奖励").click()
    expect(console.page.locator("#draft-bonuses")).to_contain_text("今日冲刺")

    simulate = console.page.locator("#simulate")
    simulate.get_by_label("开始日期（当地）").fill(today.isoformat())
    simulate.get_by_label("结束日期（当地）").fill(today.isoformat())
    simulate.get_by_role("button", name="模拟").click()
    awards = console.page.locator("#simulation-bonuses")
    expect(awards).to_contain_text("今日冲刺")
    expect(awards).to_contain_text(today.isoformat())
    expect(console.page.locator("#simulation-bonus-totals")).to_contain_text("¥25.00")
    console.shoot("rule-set-bonus-simulation")
    assert [p for p in console.problems if "422" not in p] == []
