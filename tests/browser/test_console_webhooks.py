"""Staff add a webhook endpoint, replay a delivery, rotate the secret and disable, in a real
browser (the browser tests' server allows the local receiver: WEBHOOKS_ALLOW_PRIVATE)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser import scenes
from tests.browser.conftest import ConsolePage
from tests.e2e.test_server_process import ADMIN_PASSWORD
from tests.webhook_receiver import Receiver, running_receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


def test_staff_add_an_endpoint_replay_a_delivery_rotate_and_disable(
    console: ConsolePage, admin_api: httpx.Client, receiver: Receiver
) -> None:
    shop = scenes.program(admin_api, "Webhook 测试店")
    console.sign_in("root", ADMIN_PASSWORD)
    console.goto(f"/console/webhooks?program_id={shop['id']}")
    console.page.get_by_label("URL").fill(receiver.url)
    console.page.get_by_label("promoter.applied").check()
    console.page.get_by_role("button", name="添加端点").click()
    issued = console.page.locator("#issued-secret")
    expect(issued).to_contain_text("whsec_")
    secret = re.search(r"whsec_\S+", issued.inner_text()).group(0)  # type: ignore[union-attr]
    console.shoot("webhooks")

    # Staff replay the delivery (the server's own job may have sent it already: once more).
    applicant = scenes.application(admin_api, shop["id"], "己推广员")
    console.goto(f"/console/webhooks?program_id={shop['id']}")
    row = console.page.locator("#deliveries tbody tr").filter(has_text="promoter.applied")
    expect(row).to_have_count(1)
    row.get_by_role("link").click()
    console.page.get_by_role("button", name="重新投递").click()
    expect(console.page.get_by_role("status")).to_have_text("已保存。")
    expect(console.page.locator("h1")).to_contain_text("已送达")
    expect(console.page.locator("#attempts").get_by_role("cell", name="204").last).to_be_visible()
    assert receiver.verified(secret)["data"]["promoter_id"] == applicant["id"]
    console.shoot("webhook-delivery")

    console.page.get_by_role("link", name="返回 Webhook").click()
    console.page.get_by_role("button", name="轮换密钥").click()
    expect(console.page.locator("#issued-secret")).not_to_contain_text(secret)
    console.page.get_by_role("button", name="禁用").click()
    expect(console.page.locator("#endpoints")).to_contain_text("已禁用")
    assert console.problems == []
