"""The promotion tools over HTTP: staff upload poster templates, publish materials and
announcements; promoters get their poster, share materials, read announcements and see
their action items."""

from __future__ import annotations

import base64
import io

from PIL import Image

from server.models import Program, User
from tests.api.conftest import Api
from tests.order_builders import shop
from tests.service.promotion.builders import LAYOUT, picture
from tests.service.sharing.test_share_support import make_program, make_promoter
from tests.wechat_fixtures import promoter_login

KEY = {"Idempotency-Key": "promo-key-0001"}


async def _promoter(api: Api, identity: str, program: Program) -> str:
    login = await promoter_login(api, identity, nickname="王小明")
    await make_promoter(program, user=await User.get(id=login["user"]["id"]))
    return login["access_token"]


def _upload(content: bytes, **layout: object) -> dict[str, object]:
    return {
        "name": "Spring",
        "image_base64": base64.b64encode(content).decode(),
        "layout": {**LAYOUT, **layout},
    }


async def test_staff_upload_a_template_and_a_promoter_gets_their_poster_then_the_cached_one(
    mp_api: Api,
) -> None:
    program = await make_program()
    staff = await mp_api.staff_token("staff", username="designer")
    token = await _promoter(mp_api, "alice", program)
    base = f"/mp/v1/programs/{program.id}"

    created = await mp_api.post(
        f"/admin/v1/programs/{program.id}/poster-templates",
        token=staff,
        json=_upload(picture()),
        headers=KEY,
    )
    assert created.status == 201, created.text
    template = created.json
    assert (template["width"], template["height"], template["version"]) == (600, 900, 1)
    preview = await mp_api.get(
        f"/admin/v1/poster-templates/{template['id']}/preview.png", token=staff
    )
    assert preview.status == 200 and preview.content_type == "image/png"

    link = await mp_api.post(f"{base}/links", token=token, json={})
    listed = await mp_api.get(f"{base}/posters", token=token)
    path = f"{base}/posters/{template['id']}/image"
    params = {"link_id": link.json["id"], "kind": "png"}
    first = await mp_api.get(path, token=token, params=params)
    second = await mp_api.get(path, token=token, params=params)

    assert [t["id"] for t in listed.json["items"]] == [template["id"]]
    assert first.status == 200, first.text
    assert first.content_type == "image/png"
    assert Image.open(io.BytesIO(first.body)).size == (600, 900)
    assert (first.headers["x-poster-cache"], second.headers["x-poster-cache"]) == ("miss", "hit")
    assert second.body == first.body

    changed = await mp_api.patch(
        f"/admin/v1/poster-templates/{template['id']}",
        token=staff,
        json={"layout": {"font_size": 60}},
    )
    third = await mp_api.get(path, token=token, params=params)
    assert changed.json["version"] == 2
    assert third.headers["x-poster-cache"] == "miss" and third.body != first.body


async def test_a_junk_upload_is_a_coded_422_and_a_promoter_may_not_upload(mp_api: Api) -> None:
    program = await make_program()
    staff = await mp_api.staff_token("staff", username="designer")
    token = await _promoter(mp_api, "bob", program)
    path = f"/admin/v1/programs/{program.id}/poster-templates"

    junk = await mp_api.post(path, token=staff, json=_upload(b"MZ\x90\x00 an executable"))
    not_base64 = await mp_api.post(
        path, token=staff, json={**_upload(picture()), "image_base64": "@@@"}
    )
    off_image = await mp_api.post(path, token=staff, json=_upload(picture(), qr_y=800))
    promoter = await mp_api.post(path, token=token, json=_upload(picture()))

    assert (junk.status, junk.json["error"]["code"]) == (422, "poster_image_unsupported")
    assert (not_base64.status, not_base64.json["error"]["code"]) == (422, "image_not_base64")
    assert (off_image.status, off_image.json["error"]["code"]) == (422, "poster_layout")
    assert promoter.status == 403


async def test_a_published_material_is_shared_with_the_promoters_link_filled_in(
    mp_api: Api,
) -> None:
    program = await make_program()
    staff = await mp_api.staff_token("staff", username="editor")
    token = await _promoter(mp_api, "carol", program)
    material = await mp_api.post(
        f"/admin/v1/programs/{program.id}/materials",
        token=staff,
        json={
            "kind": "product",
            "title": "春季新品",
            "copy_text": "快来看 {link}",
            "destination": "pages/product/detail?id=7",
            "image_base64": base64.b64encode(picture(300, 300)).decode(),
        },
        headers=KEY,
    )
    assert material.status == 201, material.text
    material_id = material.json["id"]
    base = f"/mp/v1/programs/{program.id}/materials"
    hidden = await mp_api.get(base, token=token)
    published = await mp_api.post(f"/admin/v1/materials/{material_id}/publish", token=staff)

    listed = await mp_api.get(base, token=token)
    shared = await mp_api.post(f"{base}/{material_id}/share", token=token)
    image = await mp_api.get(f"{base}/{material_id}/image", token=token)

    assert hidden.json["items"] == []
    assert published.json["status"] == "published"
    assert [m["id"] for m in listed.json["items"]] == [material_id]
    assert shared.status == 200, shared.text
    assert shared.json["text"] == f"快来看 {shared.json['link']['h5_url']}"
    assert image.status == 200 and image.content_type == "image/png"


async def test_promoters_read_an_announcement_staff_published(mp_api: Api) -> None:
    program = await shop()
    staff = await mp_api.staff_token("staff", username="writer")
    token = await _promoter(mp_api, "dave", program)
    created = await mp_api.post(
        f"/admin/v1/programs/{program.id}/announcements",
        token=staff,
        json={"title": "双十一", "body": "佣金翻倍", "notify": True},
        headers=KEY,
    )
    assert created.status == 201, created.text
    announcement_id = created.json["id"]
    base = f"/mp/v1/programs/{program.id}"
    subscribed = await mp_api.put(f"{base}/announcements/subscription", token=token)

    published = await mp_api.post(f"/admin/v1/announcements/{announcement_id}/publish", token=staff)
    unread = await mp_api.get(f"{base}/announcements", token=token)
    items = await mp_api.get(f"{base}/action-items", token=token)
    read = await mp_api.post(f"{base}/announcements/{announcement_id}/read", token=token)
    after = await mp_api.get(f"{base}/announcements", token=token)
    edited = await mp_api.patch(
        f"/admin/v1/announcements/{announcement_id}", token=staff, json={"title": "x"}
    )

    assert subscribed.json["subscribed"] is True
    assert published.json["status"] == "published"
    assert unread.json["unread"] == 1 and after.json["unread"] == 0
    assert "read_announcements" in [i["code"] for i in items.json["items"]]
    assert read.json["read"] is True
    assert (edited.status, edited.json["error"]["code"]) == (409, "announcement_not_editable")


async def test_the_promotion_routes_are_in_the_openapi_documents(mp_api: Api) -> None:
    admin = await mp_api.get("/admin/v1/openapi.json")
    mini = await mp_api.get("/mp/v1/openapi.json")

    assert "/admin/v1/programs/{program_id}/poster-templates" in admin.json["paths"]
    assert "/admin/v1/announcements/{announcement_id}/publish" in admin.json["paths"]
    assert "/mp/v1/programs/{program_id}/action-items" in mini.json["paths"]
    assert "/mp/v1/programs/{program_id}/posters/{template_id}/image" in mini.json["paths"]
