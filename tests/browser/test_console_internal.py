"""Internal programs, incentive edits and the leaderboard in a real browser: staff create a
sub-account and its tracked link, record spend (a bad CSV row refused with its cell named),
read ROI; change a boost after it was added; an admin shows the leaderboard."""

from __future__ import annotations

import httpx
from playwright.sync_api import expect

from tests.browser import scenes
from tests.browser.conftest import ConsolePage
from tests.e2e.stack_client import ok
from tests.e2e.test_server_process import ADMIN_PASSWORD


def test_staff_run_an_internal_program_in_the_console(
    console: ConsolePage, admin_api: httpx.Client
) -> None:
    own = scenes.program(admin_api, "自营团队", kind="internal")
    console.sign_in("root", ADMIN_PASSWORD)
    page = console.page
    console.goto(f"/console/sub-accounts?program_id={own['id']}")
    expect(page.get_by_role("heading", name="子账号", exact=True)).to_be_visible()
    form = page.locator("#new-sub-account")
    form.locator("input[name=name]").fill("地推一组")
    form.get_by_role("button", name="创建").click()

    expect(page.get_by_role("heading", name="子账号 #", exact=False)).to_contain_text("地推一组")
    link = page.locator("#new-link")
    link.locator("input[name=utm_source]").fill("poster")
    link.locator("input[name=utm_campaign]").fill("spring")
    link.get_by_role("button", name="新建链接").click()
    expect(page.locator("#links tbody tr", has_text="spring")).to_contain_text("poster")
    console.shoot("sub-account")

    console.goto(f"/console/spend?program_id={own['id']}")
    spend = page.locator("#new-spend")
    spend.locator("input[name=day]").fill("2026-03-02")
    spend.locator("input[name=amount]").fill("20.00")
    spend.locator("input[name=utm_campaign]").fill("spring")
    spend.get_by_role("button", name="记录花费").click()
    expect(page.locator("#spend tbody tr", has_text="spring")).to_contain_text("¥20.00")
    page.set_input_files(
        "#spend-upload input[name=file]",
        files=[{"name": "spend.csv", "mimeType": "text/csv",
                "buffer": b"day,amount,utm_campaign\n2026-13-01,-4,spring\n"}],
    )  # fmt: skip
    page.locator("#spend-upload").get_by_role("button", name="上传并记录").click()
    expect(page.get_by_text("row 2.day")).to_be_visible()
    console.problems.clear()  # the 422 page itself is what this step expects
    console.shoot("spend")

    console.goto(f"/console/roi?program_id={own['id']}&preset=custom&from=2026-03-01&to=2026-03-05")
    expect(page.locator("#roi-utm_campaign")).to_be_visible()
    console.shoot("roi")
    assert console.problems == []


def test_staff_change_a_boost_and_an_admin_shows_the_leaderboard(
    console: ConsolePage, admin_api: httpx.Client
) -> None:
    shop = scenes.program(admin_api, "改加成店")
    boost = ok(
        admin_api.post(
            f"/admin/v1/programs/{shop['id']}/boosts",
            json={"name": "周末", "multiplier": "1.2", "starts_at": "2026-11-11T00:00:00+08:00",
                  "ends_at": "2026-11-12T00:00:00+08:00"},
        ),
        201,
    )  # fmt: skip
    console.sign_in("root", ADMIN_PASSWORD)
    page = console.page
    console.goto(f"/console/incentives?program_id={shop['id']}")
    page.locator("#boosts").get_by_role("link", name="周末").click()
    form = page.locator("#edit-incentive")
    expect(form.locator("input[name=starts_at]")).to_have_value("2026-11-11T00:00")
    form.locator("input[name=multiplier]").fill("1.8")
    form.get_by_role("button", name="保存").click()
    expect(page.locator("#edit-incentive input[name=multiplier]")).to_have_value("1.8000")
    console.shoot("incentive-edit")
    assert boost["id"]

    console.goto(f"/console/bonus-awards?program_id={shop['id']}")
    expect(page.get_by_role("heading", name="奖励发放记录")).to_be_visible()
    console.shoot("bonus-awards")

    console.goto(f"/console/leaderboard?program_id={shop['id']}")
    expect(page.locator("#leaderboard-state")).to_contain_text("未向推广员展示")
    page.get_by_role("button", name="向推广员展示").click()
    expect(page.locator("#leaderboard-state")).to_contain_text("已向推广员展示")
    console.shoot("leaderboard")
    assert console.problems == []
