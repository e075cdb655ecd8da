"""Share posters: a template's background with the promoter's QR code and name, cached per
template version, promoter, link and QR kind; uploads are checked by their bytes."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from server.config import Settings
from server.domain.errors import NotFound, ValidationFailed
from server.domain.promotion.posters import MAX_TEMPLATE_BYTES
from server.domain.sharing.attribution import TouchSource
from server.integrations.posters import find_cjk_font
from server.integrations.qr import render_qr_png
from server.models import User
from server.services.promotion.posters import (
    create_poster_template,
    my_poster,
    template_preview,
    update_poster_template,
)
from server.services.sharing.links import h5_url
from tests.order_builders import ADMIN
from tests.service.promotion.builders import (
    LAYOUT,
    media_settings,
    picture,
    sharer,
    template_of,
)
from tests.service.sharing.test_share_support import FakeWeChat, make_program

pytestmark = pytest.mark.usefixtures("db")


@pytest.fixture
def media(settings: Settings, tmp_path: Path) -> Settings:
    return media_settings(settings, tmp_path)


def _image(content: bytes) -> Image.Image:
    return Image.open(io.BytesIO(content)).convert("RGB")


def _name_box(layout: dict = LAYOUT) -> tuple[int, int, int, int]:
    top = layout["name_y"]
    return (layout["name_x"], top, layout["name_x"] + 400, top + layout["font_size"] + 20)


async def _poster(
    user_id: int,
    program_id: int,
    template_id: int,
    link_id: int,
    media: Settings,
    kind: str = "png",
):
    return await my_poster(
        user_id=user_id,
        program_id=program_id,
        template_id=template_id,
        link_id=link_id,
        kind=kind,
        wechat=FakeWeChat(),  # type: ignore[arg-type]
        settings=media,
    )


async def test_a_poster_carries_the_promoters_link_qr_code_and_their_name(media: Settings) -> None:
    program = await make_program()
    template = await template_of(program, media)
    promoter, link = await sharer(program, "王小明")

    poster = await _poster(promoter.user_id, program.id, template.id, link.id, media)

    drawn = _image(poster.content)
    assert drawn.size == (600, 900)
    url = h5_url(link, settings=media, via=TouchSource.QR.value)
    alone = _image(render_qr_png(url, width=430)).resize((300, 300), Image.Resampling.NEAREST)
    qr_region = drawn.crop((50, 50, 350, 350))
    assert ImageChops.difference(qr_region, alone).getbbox() is None
    name_region = drawn.crop(_name_box()).convert("L")
    assert name_region.getextrema()[0] < 128, "the name's region is blank"
    outside = drawn.crop((400, 600, 600, 900)).convert("L")
    assert outside.getextrema() == (255, 255), "only the QR code and the name are drawn"


async def test_chinese_names_render_as_their_own_glyphs_not_as_boxes(media: Settings) -> None:
    assert find_cjk_font() is not None, "install fonts-noto-cjk (see docs/promotion-tools.md)"
    program = await make_program()
    template = await template_of(program, media)
    first, first_link = await sharer(program, "王小明")
    second, second_link = await sharer(program, "李春红")

    one = _image(
        (await _poster(first.user_id, program.id, template.id, first_link.id, media)).content
    )
    two = _image(
        (await _poster(second.user_id, program.id, template.id, second_link.id, media)).content
    )

    # Missing glyphs draw the same box for every character: two names would look alike.
    assert ImageChops.difference(one.crop(_name_box()), two.crop(_name_box())).getbbox()


async def test_the_second_request_is_served_from_the_cache_until_the_template_changes(
    media: Settings,
) -> None:
    program = await make_program()
    template = await template_of(program, media)
    promoter, link = await sharer(program)

    first = await _poster(promoter.user_id, program.id, template.id, link.id, media)
    again = await _poster(promoter.user_id, program.id, template.id, link.id, media)
    changed = await update_poster_template(
        template_id=template.id,
        changes={"layout": {"font_colour": "#ff0000"}},
        image=None,
        actor=ADMIN,
        settings=media,
    )
    after = await _poster(promoter.user_id, program.id, template.id, link.id, media)
    cached_after = await _poster(promoter.user_id, program.id, template.id, link.id, media)

    assert (first.cached, again.cached, after.cached, cached_after.cached) == (
        False,
        True,
        False,
        True,
    )
    assert again.content == first.content
    assert changed.version == template.version + 1
    assert after.sha256 != first.sha256
    red = _image(after.content).crop(_name_box()).getcolors(maxcolors=100_000)
    assert any(r > 200 and g < 80 and b < 80 for _, (r, g, b) in red)


async def test_a_promoter_who_renames_themselves_gets_a_poster_with_the_new_name(
    media: Settings,
) -> None:
    program = await make_program()
    template = await template_of(program, media)
    promoter, link = await sharer(program, "王小明")
    first = await _poster(promoter.user_id, program.id, template.id, link.id, media)

    await User.filter(id=promoter.user_id).update(nickname="王大明")
    renamed = await _poster(promoter.user_id, program.id, template.id, link.id, media)

    assert not renamed.cached and renamed.sha256 != first.sha256


async def test_a_mini_program_code_poster_and_a_link_qr_poster_are_cached_apart(
    media: Settings,
) -> None:
    program = await make_program()
    template = await template_of(program, media)
    promoter, link = await sharer(program)

    plain = await _poster(promoter.user_id, program.id, template.id, link.id, media, "png")
    code = await _poster(promoter.user_id, program.id, template.id, link.id, media, "wxacode")

    assert not code.cached and code.sha256 != plain.sha256


async def test_a_promoter_never_gets_a_poster_of_another_program_or_with_anothers_link(
    media: Settings,
) -> None:
    program, other_program = await make_program("A"), await make_program("B")
    template = await template_of(program, media)
    promoter, _ = await sharer(program)
    outsider, outsider_link = await sharer(other_program)
    _, colleague_link = await sharer(program, "同事")

    with pytest.raises(NotFound) as elsewhere:
        await _poster(outsider.user_id, other_program.id, template.id, outsider_link.id, media)
    with pytest.raises(NotFound) as not_theirs:
        await _poster(promoter.user_id, program.id, template.id, colleague_link.id, media)

    assert elsewhere.value.code == "poster_template_not_found"
    assert not_theirs.value.code == "link_not_found"


async def test_a_disabled_template_renders_no_poster(media: Settings) -> None:
    program = await make_program()
    template = await template_of(program, media)
    promoter, link = await sharer(program)
    await update_poster_template(
        template_id=template.id, changes={"enabled": False}, image=None, actor=ADMIN, settings=media
    )

    with pytest.raises(NotFound) as refused:
        await _poster(promoter.user_id, program.id, template.id, link.id, media)

    assert refused.value.code == "poster_template_not_found"


async def test_staff_preview_a_template_with_a_sample_name_and_qr_code(media: Settings) -> None:
    program = await make_program()
    template = await template_of(program, media)

    preview = await template_preview(template_id=template.id, settings=media)

    drawn = _image(preview.content)
    assert drawn.crop((50, 50, 350, 350)).convert("L").getextrema() == (0, 255)
    assert drawn.crop(_name_box()).convert("L").getextrema()[0] < 128


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"", "poster_image_empty"),
        (b"GIF89a" + b"\0" * 64, "poster_image_unsupported"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "poster_image_unsupported"),
        (b"\x89PNG\r\n\x1a\n" + b"junk" * 40, "poster_image_corrupt"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * MAX_TEMPLATE_BYTES, "poster_image_too_large"),
        (picture(100, 100), "poster_image_size"),
    ],
)
async def test_an_upload_that_is_no_usable_png_or_jpeg_is_a_coded_422(
    media: Settings, content: bytes, code: str
) -> None:
    program = await make_program()

    with pytest.raises(ValidationFailed) as refused:
        await create_poster_template(
            program_id=program.id,
            name="x",
            image=content,
            layout=LAYOUT,
            actor=ADMIN,
            settings=media,
        )

    assert refused.value.code == code


async def test_a_jpeg_is_accepted_whatever_its_name_says_and_a_layout_off_the_image_is_refused(
    media: Settings,
) -> None:
    program = await make_program()
    jpeg = picture(kind="JPEG")

    template = await create_poster_template(
        program_id=program.id, name="j", image=jpeg, layout=LAYOUT, actor=ADMIN, settings=media
    )
    with pytest.raises(ValidationFailed) as refused:
        await create_poster_template(
            program_id=program.id,
            name="j",
            image=jpeg,
            layout={**LAYOUT, "qr_x": 400, "font_colour": "red"},
            actor=ADMIN,
            settings=media,
        )

    assert template.content_type == "image/jpeg"
    assert refused.value.code == "poster_layout"
    assert set(refused.value.fields) == {"qr_x", "font_colour"}
