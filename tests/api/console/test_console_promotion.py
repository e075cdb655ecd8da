"""The promotion pages of the console: staff upload a template (file upload, checked like the
API's) and preview it, add and publish materials and announcements; finance only reads."""

from __future__ import annotations

from sanic import Sanic

from server.models import Announcement, Material, PosterTemplate
from tests.api.console.client import signed_in
from tests.order_builders import shop
from tests.service.promotion.builders import LAYOUT, picture

LAYOUT_FORM = {key: str(value) for key, value in LAYOUT.items()}


async def test_staff_upload_a_template_and_its_preview_is_a_png(app: Sanic) -> None:
    program = await shop()
    console = await signed_in(app, "staff", username="poster_staff")
    await console.get(f"/console/posters?program_id={program.id}")

    uploaded = await console.post(
        "/console/posters",
        {"program_id": program.id, "name": "春季", **LAYOUT_FORM},
        files={"image": ("spring.jpg", picture(kind="JPEG"), "image/jpeg")},
    )
    template = await PosterTemplate.get(program_id=program.id)
    detail = await console.get(uploaded.headers["location"])
    preview = await console.get(f"/console/posters/{template.id}/preview.png")

    assert uploaded.status_code == 303, uploaded.text
    assert template.content_type == "image/jpeg"
    assert f"/console/posters/{template.id}/preview.png" in detail.text
    assert preview.status_code == 200 and preview.content.startswith(b"\x89PNG")
    await console.close()


async def test_junk_and_a_bad_layout_are_refused_on_the_page(app: Sanic) -> None:
    program = await shop()
    console = await signed_in(app, "staff", username="poster_junk")
    await console.get(f"/console/posters?program_id={program.id}")

    junk = await console.post(
        "/console/posters",
        {"program_id": program.id, "name": "x", **LAYOUT_FORM},
        files={"image": ("x.png", b"<?php echo 1; ?>", "image/png")},
    )
    bad_layout = await console.post(
        "/console/posters",
        {"program_id": program.id, "name": "x", **LAYOUT_FORM, "qr_size": "many"},
        files={"image": ("x.png", picture(), "image/png")},
    )

    assert junk.status_code == 422 and "poster_image_unsupported" in junk.text
    assert bad_layout.status_code == 422
    assert await PosterTemplate.filter(program_id=program.id).count() == 0
    await console.close()


async def test_staff_add_and_publish_a_material_and_an_announcement(app: Sanic) -> None:
    program = await shop()
    console = await signed_in(app, "staff", username="editor_staff")
    await console.get(f"/console/materials?program_id={program.id}")

    added = await console.post(
        "/console/materials",
        {"program_id": program.id, "kind": "copy", "title": "早鸟", "copy_text": "买 {link}"},
    )
    material = await Material.get(program_id=program.id)
    published = await console.post(f"/console/materials/{material.id}/publish")
    drafted = await console.post(
        "/console/announcements", {"program_id": program.id, "title": "通知", "body": "内容"}
    )
    announcement = await Announcement.get(program_id=program.id)
    unknown = await console.post(f"/console/announcements/{announcement.id}/explode")
    announced = await console.post(f"/console/announcements/{announcement.id}/publish")
    page = await console.get(f"/console/announcements?program_id={program.id}")

    assert [r.status_code for r in (added, published, drafted, announced)] == [303] * 4
    assert unknown.status_code == 409
    assert (await Material.get(id=material.id)).status == "published"
    assert (await Announcement.get(id=announcement.id)).status == "published"
    assert "已发布" in page.text
    await console.close()


async def test_finance_reads_the_pages_but_cannot_change_them(app: Sanic) -> None:
    program = await shop()
    console = await signed_in(app, "finance", username="promo_reader")

    listed = await console.get(f"/console/materials?program_id={program.id}")
    refused = await console.post(
        "/console/materials", {"program_id": program.id, "kind": "copy", "title": "x"}
    )

    assert (
        listed.status_code == 200 and 'method="post" action="/console/materials"' not in listed.text
    )
    assert refused.status_code == 403
    await console.close()
