"""Signing in to the console in a real browser: Chinese first, escaped names, no CSP errors."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import expect

from tests.browser import scenes
from tests.browser.conftest import ConsolePage
from tests.e2e.test_server_process import ADMIN_PASSWORD

SCRIPT_NAME = "<script>alert(1)</script>"


def test_staff_sign_in_see_promoters_switch_to_english_and_sign_out(
    console: ConsolePage, admin_api: httpx.Client
) -> None:
    shop = scenes.program(admin_api, "浏览器测试店")
    scenes.application(admin_api, shop["id"], SCRIPT_NAME)

    console.goto("/console")
    expect(console.page).to_have_url(re.compile(r"/console/login"))
    expect(console.page.get_by_role("heading", name="登录")).to_be_visible()
    console.shoot("login")

    console.sign_in("root", ADMIN_PASSWORD)
    console.goto(f"/console/promoters?program_id={shop['id']}")
    expect(console.page.get_by_role("heading", name="推广员")).to_be_visible()
    # The hostile name is shown as text, and no script of it ran (no dialog was opened).
    expect(console.page.get_by_role("cell", name=SCRIPT_NAME)).to_be_visible()
    expect(console.page.get_by_role("cell", name="待审核")).to_be_visible()
    console.shoot("promoters")

    console.page.get_by_role("link", name="English").click()
    expect(console.page.get_by_role("heading", name="Promoters")).to_be_visible()
    console.page.get_by_role("button", name="Sign out").click()
    expect(console.page).to_have_url(re.compile(r"/console/login"))
    assert console.problems == []
