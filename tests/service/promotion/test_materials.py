"""The materials library: staff publish materials per program in their order; promoters see
only their program's published ones and share each with their own link and code."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.config import Settings
from server.domain.errors import IllegalTransition, NotFound, ValidationFailed
from server.models import ShareLink
from server.services.promotion.materials import (
    change_material_status,
    create_material,
    material_image,
    promoter_materials,
    share_material,
    update_material,
)
from tests.order_builders import ADMIN
from tests.service.promotion.builders import media_settings, picture, sharer
from tests.service.sharing.test_share_support import make_program

pytestmark = pytest.mark.usefixtures("db")


@pytest.fixture
def media(settings: Settings, tmp_path: Path) -> Settings:
    return media_settings(settings, tmp_path)


async def _material(program_id: int, media: Settings, *, publish: bool = True, **document):
    material = await create_material(
        program_id=program_id,
        document={
            "kind": "copy",
            "title": "Spring sale",
            "copy_text": "Buy here {link}",
            **document,
        },
        image=None,
        actor=ADMIN,
        settings=media,
    )
    if publish:
        material = await change_material_status(
            material_id=material.id, action="publish", actor=ADMIN
        )
    return material


async def test_promoters_see_published_materials_in_staff_order_page_by_page(
    media: Settings,
) -> None:
    program = await make_program()
    promoter, _ = await sharer(program)
    third = await _material(program.id, media, title="third", position=3)
    first = await _material(program.id, media, title="first", position=1)
    second = await _material(program.id, media, title="second", position=2)
    await _material(program.id, media, title="draft", position=0, publish=False)
    hidden = await _material(program.id, media, title="hidden", position=0)
    await change_material_status(material_id=hidden.id, action="unpublish", actor=ADMIN)

    page_one = await promoter_materials(user_id=promoter.user_id, program_id=program.id, limit=2)
    page_two = await promoter_materials(
        user_id=promoter.user_id, program_id=program.id, offset=page_one["next_offset"], limit=2
    )

    assert [m["id"] for m in page_one["items"]] == [first.id, second.id]
    assert [m["id"] for m in page_two["items"]] == [third.id]
    assert page_two["next_offset"] is None


async def test_a_promoter_never_sees_or_shares_another_programs_materials(
    media: Settings,
) -> None:
    program, other = await make_program("A"), await make_program("B")
    material = await _material(program.id, media)
    outsider, _ = await sharer(other)

    listed = await promoter_materials(user_id=outsider.user_id, program_id=other.id)
    with pytest.raises(NotFound) as refused:
        await share_material(
            user_id=outsider.user_id, program_id=other.id, material_id=material.id, settings=media
        )
    with pytest.raises(NotFound):
        await promoter_materials(user_id=outsider.user_id, program_id=program.id)

    assert listed["items"] == []
    assert refused.value.code == "material_not_found"


async def test_a_shared_product_material_fills_in_the_promoters_own_product_link_once(
    media: Settings,
) -> None:
    program = await make_program()
    promoter, _ = await sharer(program, "王小明")
    material = await _material(
        program.id,
        media,
        kind="product",
        destination="pages/product/detail?id=42",
        copy_text="{name} 推荐: {link} 码 {code} {unknown}",
    )

    shared = await share_material(
        user_id=promoter.user_id, program_id=program.id, material_id=material.id, settings=media
    )
    again = await share_material(
        user_id=promoter.user_id, program_id=program.id, material_id=material.id, settings=media
    )

    link = shared["link"]
    assert link["destination"] == "pages/product/detail?id=42"
    assert (
        shared["text"]
        == f"王小明 推荐: {link['h5_url']} 码 {promoter.invite_code or ''} {{unknown}}"
    )
    assert again["link"]["id"] == link["id"]
    assert await ShareLink.filter(promoter_id=promoter.id).count() == 2  # the first + product


async def test_an_unpublished_material_can_no_longer_be_shared_and_publishing_twice_is_a_409(
    media: Settings,
) -> None:
    program = await make_program()
    promoter, _ = await sharer(program)
    material = await _material(program.id, media)

    with pytest.raises(IllegalTransition) as twice:
        await change_material_status(material_id=material.id, action="publish", actor=ADMIN)
    await change_material_status(material_id=material.id, action="unpublish", actor=ADMIN)
    with pytest.raises(NotFound):
        await share_material(
            user_id=promoter.user_id, program_id=program.id, material_id=material.id, settings=media
        )

    assert twice.value.code == "material_illegal_transition"


async def test_an_image_material_needs_a_real_image_and_promoters_get_it_once_published(
    media: Settings,
) -> None:
    program = await make_program()
    promoter, _ = await sharer(program)
    with pytest.raises(ValidationFailed) as no_image:
        await _material(program.id, media, kind="image", copy_text="")
    with pytest.raises(ValidationFailed) as junk:
        await create_material(
            program_id=program.id,
            document={"kind": "image", "title": "x"},
            image=b"not an image",
            actor=ADMIN,
            settings=media,
        )
    material = await create_material(
        program_id=program.id,
        document={"kind": "image", "title": "banner"},
        image=picture(300, 300, kind="JPEG"),
        actor=ADMIN,
        settings=media,
    )
    with pytest.raises(NotFound):
        await material_image(
            material_id=material.id, settings=media, user_id=promoter.user_id, program_id=program.id
        )
    await change_material_status(material_id=material.id, action="publish", actor=ADMIN)
    content, content_type = await material_image(
        material_id=material.id, settings=media, user_id=promoter.user_id, program_id=program.id
    )

    assert no_image.value.fields == {"image": "an image material needs an image"}
    assert junk.value.code == "poster_image_unsupported"
    assert content_type == "image/jpeg" and content.startswith(b"\xff\xd8\xff")


async def test_staff_reorder_and_edit_a_published_material_in_place(media: Settings) -> None:
    program = await make_program()
    promoter, _ = await sharer(program)
    first = await _material(program.id, media, title="first", position=1)
    second = await _material(program.id, media, title="second", position=2)

    await update_material(
        material_id=second.id,
        changes={"position": 0, "title": "now first"},
        image=None,
        actor=ADMIN,
        settings=media,
    )
    listed = await promoter_materials(user_id=promoter.user_id, program_id=program.id)

    assert [(m["id"], m["title"]) for m in listed["items"]] == [
        (second.id, "now first"),
        (first.id, "first"),
    ]
