"""An admin creates a read-only API key with chosen scopes, and staff find the unknown
product of an accepted order, in a real browser."""

from __future__ import annotations

import httpx
from playwright.sync_api import expect

from tests.browser import scenes
from tests.browser.conftest import ConsolePage
from tests.e2e.test_server_process import ADMIN_PASSWORD


def test_an_admin_makes_a_reporting_key_and_sees_the_unknown_product_of_an_order(
    console: ConsolePage, admin_api: httpx.Client
) -> None:
    shop, _upline, buyer = scenes.team_of_two(admin_api, "目录测试店", "庚推广员", "辛推广员")
    key = scenes.store_key(admin_api, shop["id"])
    # The order's line names SKU-1, which the store never pushed to the catalog.
    scenes.paid_order(admin_api, key, "CATALOG-1", buyer["openid"], "50.00")

    console.sign_in("root", ADMIN_PASSWORD)
    console.goto(f"/console/programs/{shop['id']}")
    form = console.page.locator("#new-api-key")
    form.get_by_label("姓名").fill("报表")
    for scope in ("events:write", "clicks:write", "catalog:write"):
        form.get_by_label(scope).uncheck()
    form.get_by_label("reports:read").check()
    form.get_by_role("button", name="新建密钥").click()
    expect(console.page.locator("#issued-key")).to_be_visible()
    row = console.page.locator("#api-keys tr").filter(has_text="报表")
    expect(row.locator(".scopes")).to_have_text("reports:read")
    console.shoot("api-key-scopes")

    console.goto(f"/console/catalog/unknown-products?program_id={shop['id']}")
    unknown = console.page.locator("#unknown-products tr").filter(has_text="SKU-1")
    expect(unknown).to_have_count(1)
    expect(unknown.locator("td.num")).to_have_text("1")
    console.shoot("unknown-products")
    assert console.problems == []
