"""Staff confirm a fraud anomaly in a real browser."""

from __future__ import annotations

import httpx
from playwright.sync_api import expect

from tests.browser import scenes
from tests.browser.conftest import ConsolePage
from tests.e2e.test_server_process import ADMIN_PASSWORD


def test_staff_confirm_a_self_referral_found_on_a_paid_order(
    console: ConsolePage, admin_api: httpx.Client
) -> None:
    shop, upline, buyer = scenes.team_of_two(admin_api, "风控测试店", "丁推广员", "戊推广员")
    scenes.approve(admin_api, buyer["id"])
    key = scenes.store_key(admin_api, shop["id"])
    # The store knows the buyer's WeChat unionid: the upline's, who earns on the order.
    scenes.paid_order(
        admin_api, key, "FRAUD-1", buyer["openid"], "300.00", unionid=upline["unionid"]
    )

    console.sign_in("root", ADMIN_PASSWORD)
    console.goto(f"/console/anomalies?program_id={shop['id']}")
    row = console.page.get_by_role("row").filter(has_text="自我推荐")
    expect(row).to_have_count(1)
    console.shoot("anomalies")
    row.get_by_role("checkbox").check()
    console.page.get_by_label("备注（必填）").fill("同一手机号，上下级为同一人")
    console.page.get_by_role("button", name="确认为作弊").click()
    expect(console.page.get_by_role("status")).to_have_text("已保存。")
    console.page.get_by_label("状态").select_option("confirmed")
    console.page.get_by_role("button", name="筛选").click()
    expect(console.page.get_by_role("cell", name="已确认")).to_have_count(1)
    assert console.problems == []
