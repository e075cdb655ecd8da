"""Staff upload a poster template and see its preview, then publish an announcement, in a
real browser."""

from __future__ import annotations

import io

import httpx
from PIL import Image
from playwright.sync_api import expect

from tests.browser import scenes
from tests.browser.conftest import ConsolePage
from tests.e2e.test_server_process import ADMIN_PASSWORD


def _background() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (600, 900), "#fde9d9").save(buffer, format="PNG")
    return buffer.getvalue()


def test_staff_upload_a_poster_template_and_see_its_preview(
    console: ConsolePage, admin_api: httpx.Client
) -> None:
    shop = scenes.program(admin_api, "海报测试店")

    console.sign_in("root", ADMIN_PASSWORD)
    console.goto(f"/console/posters?program_id={shop['id']}")
    console.page.get_by_label("模板名称").fill("春季海报")
    console.page.set_input_files(
        "input[name=image]",
        files=[{"name": "spring.png", "mimeType": "image/png", "buffer": _background()}],
    )
    console.page.get_by_label("二维码边长").fill("260")
    console.page.get_by_role("button", name="上传").click()

    expect(console.page.get_by_role("status")).to_have_text("已保存。")
    expect(console.page.get_by_role("heading", level=1)).to_contain_text("春季海报")
    preview = console.page.get_by_role("img", name="示例昵称和二维码的预览")
    expect(preview).to_be_visible()
    loaded = preview.evaluate("img => img.complete && img.naturalWidth")
    assert loaded == 600
    console.shoot("poster-template")
    assert console.problems == []


def test_staff_refuse_junk_as_a_template_with_a_readable_error(
    console: ConsolePage, admin_api: httpx.Client
) -> None:
    shop = scenes.program(admin_api, "海报拒收店")

    console.sign_in("root", ADMIN_PASSWORD)
    console.goto(f"/console/posters?program_id={shop['id']}")
    console.page.get_by_label("模板名称").fill("坏图")
    console.page.set_input_files(
        "input[name=image]",
        files=[{"name": "x.png", "mimeType": "image/png", "buffer": b"not a picture at all"}],
    )
    console.page.get_by_role("button", name="上传").click()

    expect(console.page.get_by_text("poster_image_unsupported")).to_be_visible()
    console.problems.clear()  # the 422 page itself is what this test expects


def test_staff_publish_an_announcement(console: ConsolePage, admin_api: httpx.Client) -> None:
    shop = scenes.program(admin_api, "公告测试店")

    console.sign_in("root", ADMIN_PASSWORD)
    console.goto(f"/console/announcements?program_id={shop['id']}")
    console.page.get_by_label("标题").fill("双十一佣金翻倍")
    console.page.get_by_label("正文").fill("11 月 11 日全天佣金翻倍。")
    console.page.get_by_role("button", name="存为草稿").click()
    expect(console.page.get_by_role("status")).to_have_text("已保存。")
    row = console.page.get_by_role("row").filter(has_text="双十一佣金翻倍")
    expect(row.get_by_text("草稿")).to_be_visible()

    row.get_by_role("button", name="发布").click()

    expect(console.page.get_by_role("status")).to_have_text("已保存。")
    row = console.page.get_by_role("row").filter(has_text="双十一佣金翻倍")
    expect(row.get_by_text("已发布")).to_be_visible()
    expect(row.get_by_role("button", name="归档")).to_be_visible()
    console.shoot("announcements")
    assert console.problems == []
