"""Every main console page opens in a real browser with no script error or CSP violation, in
both languages; a screenshot of each is kept."""

from __future__ import annotations

import httpx
from playwright.sync_api import expect

from tests.browser import scenes
from tests.browser.conftest import ConsolePage
from tests.e2e.test_server_process import ADMIN_PASSWORD

PAGES = (
    ("promoters", "推广员", "Promoters"),
    ("payouts", "打款批次", "Payout batches"),
    ("adjustments", "余额调整", "Adjustments"),
    ("statements", "对账单", "Statements"),
    ("disputes", "申诉", "Disputes"),
    ("audit", "操作日志", "Audit log"),
    ("programs", "分销计划", "Programs"),
    ("staff", "员工账号", "Staff accounts"),
)


def test_every_main_page_opens_cleanly_in_chinese_and_english(
    console: ConsolePage, admin_api: httpx.Client
) -> None:
    shop = scenes.program(admin_api, "巡检店")
    console.sign_in("root", ADMIN_PASSWORD)
    for path, chinese, _ in PAGES:
        console.goto(f"/console/{path}?program_id={shop['id']}")
        expect(console.page.get_by_role("heading", name=chinese, exact=True)).to_be_visible()
        console.shoot(path)
    console.page.get_by_role("link", name="English").click()
    for path, _, english in PAGES:
        console.goto(f"/console/{path}?program_id={shop['id']}")
        expect(console.page.get_by_role("heading", name=english, exact=True)).to_be_visible()
    assert console.problems == []
