"""Period caps, API key rotation and archiving in a real browser: staff add a monthly cap,
an admin rotates the store's key (the new secret shown once) and archives the program."""

from __future__ import annotations

import httpx
from playwright.sync_api import expect

from tests.browser import scenes
from tests.browser.conftest import ConsolePage
from tests.e2e.test_server_process import ADMIN_PASSWORD


def test_a_cap_is_added_a_key_rotated_and_the_program_archived(
    console: ConsolePage, admin_api: httpx.Client
) -> None:
    shop = scenes.program(admin_api, "上限店")
    old_key, _ = scenes.store_key(admin_api, shop["id"])
    console.sign_in("root", ADMIN_PASSWORD)
    page = console.page
    console.goto(f"/console/caps?program_id={shop['id']}")
    form = page.locator("#new-cap")
    form.locator("select[name=period]").select_option("month")
    form.locator("input[name=amount]").fill("500")
    form.get_by_role("button", name="创建").click()
    expect(page.locator("#caps")).to_contain_text("¥500.00")
    expect(page.locator("#caps")).to_contain_text("所有推广员")
    console.shoot("caps")

    console.goto(f"/console/programs/{shop['id']}")
    page.locator("#api-keys tr", has_text=old_key).get_by_role("button", name="轮换").click()
    expect(page.locator("#issued-key")).to_be_visible()
    expect(page.locator("#issued-key")).not_to_contain_text(old_key)
    page.locator("#archive").get_by_role("button").click()
    expect(page.locator("#archive")).to_have_count(0)
    assert console.problems == []
