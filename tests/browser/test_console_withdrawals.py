"""Finance pays withdrawals through the WeChat Pay stand-in in a real browser; staff cannot."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import expect

from tests.browser import scenes
from tests.browser.conftest import ConsolePage
from tests.e2e.test_server_process import RunningServer

PASSWORD = "browser-finance-password"


def test_finance_pays_one_withdrawal_and_sees_why_another_failed(
    console: ConsolePage, admin_api: httpx.Client, console_server: RunningServer
) -> None:
    shop = scenes.program(admin_api, "提现测试店")
    earner = scenes.application(admin_api, shop["id"], "丙推广员")
    scenes.approve(admin_api, earner["id"])
    scenes.credit(admin_api, shop["id"], earner["id"], "50.00")
    first = scenes.withdrawal(admin_api, earner, "20.00")
    second = scenes.withdrawal(admin_api, earner, "10.00")
    scenes.staff(admin_api, "finance_li", "finance", password=PASSWORD)
    scenes.staff(admin_api, "ops_wang", "staff", password=PASSWORD)

    console.sign_in("finance_li", PASSWORD)
    console.goto(f"/console/withdrawals?program_id={shop['id']}")
    console.shoot("withdrawals")
    console.goto(f"/console/withdrawals/{first['id']}")
    console.page.get_by_role("button", name="通过").click()
    console.page.get_by_role("button", name="微信支付打款").click()
    expect(console.page.locator(".facts .status")).to_have_text("已支付")
    console.shoot("withdrawal-paid")

    scenes.fail_next_transfer(console_server.standin_url)
    console.goto(f"/console/withdrawals/{second['id']}")
    console.page.get_by_role("button", name="通过").click()
    console.page.get_by_role("button", name="微信支付打款").click()
    expect(console.page.locator("#transfer-error")).to_contain_text("NOT_ENOUGH")
    expect(console.page.get_by_role("button", name="重新打款")).to_be_visible()
    console.shoot("withdrawal-failed")
    console.page.get_by_role("button", name="退出登录").click()

    # Staff without finance: no money buttons, and a forged post is refused.
    console.sign_in("ops_wang", PASSWORD)
    console.goto(f"/console/withdrawals/{second['id']}")
    expect(console.page.get_by_role("button", name="重新打款")).to_have_count(0)
    token = console.page.locator("input[name=csrf_token]").first.get_attribute("value")
    refused = console.page.request.post(
        f"{console.base_url}/console/withdrawals/{second['id']}/retry",
        form={"csrf_token": token or ""},
        max_redirects=0,
    )
    assert refused.status == 403
    console.page.reload()
    expect(console.page.locator(".facts .status")).to_have_text(re.compile("打款失败"))
    console.problems = [p for p in console.problems if "/retry" not in p]  # the 403 we sent
    assert console.problems == []
