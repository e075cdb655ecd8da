"""Boosts and milestone bonuses in a real browser: staff add a boost with the date pickers,
see it in the program's wall time, and disable it."""

from __future__ import annotations

import httpx
from playwright.sync_api import expect

from tests.browser import scenes
from tests.browser.conftest import ConsolePage
from tests.e2e.test_server_process import ADMIN_PASSWORD


def test_staff_add_a_boost_in_local_time_and_disable_it(
    console: ConsolePage, admin_api: httpx.Client
) -> None:
    shop = scenes.program(admin_api, "加成店")
    console.sign_in("root", ADMIN_PASSWORD)
    page = console.page
    console.goto(f"/console/incentives?program_id={shop['id']}")
    expect(page.get_by_role("heading", name="佣金加成与奖励", exact=True)).to_be_visible()
    form = page.locator("#new-boost")
    form.locator("input[name=name]").fill("双十一加成")
    form.locator("input[name=multiplier]").fill("1.5")
    form.locator("input[name=starts_at]").fill("2026-11-11T00:00")
    form.locator("input[name=ends_at]").fill("2026-11-12T00:00")
    form.get_by_role("button", name="创建").click()
    row = page.locator("#boosts tbody tr", has_text="双十一加成")
    expect(row).to_contain_text("2026-11-11 00:00 +08:00")
    expect(row).to_contain_text("×1.5")
    console.shoot("incentives")
    row.get_by_role("button", name="禁用").click()
    expect(page.locator("#boosts tbody tr", has_text="双十一加成")).to_contain_text("已禁用")
    assert console.problems == []
