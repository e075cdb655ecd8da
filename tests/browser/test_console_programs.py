"""Create a program and a commission rule in a real browser, then dry-run an order."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import ConsolePage
from tests.e2e.test_server_process import ADMIN_PASSWORD


def test_an_admin_creates_a_program_and_a_rule_and_dry_runs_an_order(
    console: ConsolePage,
) -> None:
    console.sign_in("root", ADMIN_PASSWORD)
    console.goto("/console/programs")
    form = console.page.locator("#new-program")
    form.get_by_label("姓名").fill("规则测试店")
    form.get_by_label("分佣层级数").fill("2")
    form.get_by_label("各级比例（百分数）").fill("10, 150")
    form.get_by_role("button", name="创建").click()
    # Refused with the reason beside the field; what was typed is kept.
    expect(console.page.locator("#new-program .field-error")).to_be_visible()
    form.get_by_label("各级比例（百分数）").fill("10, 5")
    form.get_by_role("button", name="创建").click()
    expect(console.page.get_by_role("heading", name=re.compile("规则测试店"))).to_be_visible()

    rule = console.page.locator("#new-rule")
    rule.get_by_label("数值").fill("20")
    rule.get_by_label("层级").fill("1")
    rule.get_by_label("商品").fill("SKU-VIP")
    rule.get_by_role("button", name="添加规则").click()
    expect(console.page.get_by_role("cell", name="SKU-VIP")).to_be_visible()

    run = console.page.locator("#dry-run")
    run.get_by_label("商品").fill("SKU-VIP")
    run.get_by_label("金额").fill("88.00")
    run.get_by_role("button", name="计算").click()
    expect(console.page.locator("#dry-run-result")).to_contain_text("¥0.00")
    console.shoot("program")
    assert console.problems == [p for p in console.problems if "422" in p]
