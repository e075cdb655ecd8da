from __future__ import annotations

import hashlib
import io

import pytest
from PIL import Image

from server.config import Settings
from server.domain.errors import Forbidden, NotFound, UpstreamUnavailable, ValidationFailed
from server.integrations.qr import build_qr
from server.models import QrImage
from server.services.sharing import links as share_links
from server.services.sharing import qr_codes
from tests.service.sharing.test_share_support import FakeWeChat, make_program, make_promoter

pytestmark = pytest.mark.usefixtures("db")


async def _link() -> tuple[int, int, int, str]:
    program = await make_program()
    alice = await make_promoter(program)
    link, _ = await share_links.create_link(
        user_id=alice.user_id, program_id=program.id, utm_source="poster"
    )
    return alice.user_id, program.id, link.id, link.short_code


async def test_a_wxacode_is_asked_of_wechat_once_then_served_from_the_cache(
    settings: Settings,
) -> None:
    user_id, program_id, link_id, short_code = await _link()
    wechat = FakeWeChat()
    first = await qr_codes.link_wxacode(
        user_id=user_id,
        program_id=program_id,
        link_id=link_id,
        width=430,
        wechat=wechat,
        settings=settings,
    )
    second = await qr_codes.link_wxacode(
        user_id=user_id,
        program_id=program_id,
        link_id=link_id,
        width=430,
        wechat=wechat,
        settings=settings,
    )
    assert wechat.wxacode_calls == [
        {"scene": short_code, "page": settings.mp_share_page, "width": 430}
    ]
    assert second.content == first.content
    assert first.sha256 == hashlib.sha256(first.content).hexdigest()
    # Another width is another picture.
    await qr_codes.link_wxacode(
        user_id=user_id,
        program_id=program_id,
        link_id=link_id,
        width=280,
        wechat=wechat,
        settings=settings,
    )
    assert len(wechat.wxacode_calls) == 2
    assert await QrImage.filter(share_link_id=link_id, kind="wxacode").count() == 2


async def test_a_wechat_failure_stores_nothing_and_surfaces_the_gateways_error(
    settings: Settings,
) -> None:
    user_id, program_id, link_id, _ = await _link()
    with pytest.raises(UpstreamUnavailable) as failed:
        await qr_codes.link_wxacode(
            user_id=user_id,
            program_id=program_id,
            link_id=link_id,
            wechat=FakeWeChat(fail=True),
            settings=settings,
        )
    assert failed.value.code == "wechat_unavailable"
    with pytest.raises(UpstreamUnavailable) as garbage:
        await qr_codes.link_wxacode(
            user_id=user_id,
            program_id=program_id,
            link_id=link_id,
            wechat=FakeWeChat(content=b'{"errcode":-1}'),
            settings=settings,
        )
    assert garbage.value.code == "wechat_bad_image"
    assert await QrImage.all().count() == 0


async def test_when_two_first_requests_race_the_loser_returns_the_stored_picture(
    settings: Settings,
) -> None:
    user_id, program_id, link_id, _ = await _link()
    winner_content = b"\x89PNG\r\n\x1a\nwinner"

    async def another_request_finishes_first() -> None:
        await QrImage.create(
            share_link_id=link_id,
            kind="wxacode",
            width=430,
            content=winner_content,
            sha256=hashlib.sha256(winner_content).hexdigest(),
        )

    picture = await qr_codes.link_wxacode(
        user_id=user_id,
        program_id=program_id,
        link_id=link_id,
        width=430,
        wechat=FakeWeChat(before_answer=another_request_finishes_first),
        settings=settings,
    )
    assert picture.content == winner_content
    assert await QrImage.all().count() == 1


async def test_a_plain_qr_png_encodes_the_links_h5_url_and_is_cached(settings: Settings) -> None:
    user_id, program_id, link_id, _ = await _link()
    picture = await qr_codes.link_qr_png(
        user_id=user_id, program_id=program_id, link_id=link_id, width=860, settings=settings
    )
    assert Image.open(io.BytesIO(picture.content)).size == (860, 860)
    stored = await QrImage.get(share_link_id=link_id, kind="png", width=860)
    assert bytes(stored.content) == picture.content
    again = await qr_codes.link_qr_png(
        user_id=user_id, program_id=program_id, link_id=link_id, width=860, settings=settings
    )
    assert again.content == picture.content
    link = await share_links.own_link(user_id=user_id, program_id=program_id, link_id=link_id)
    url = share_links.h5_url(link, settings=settings)
    assert "utm_source=poster" in url
    # The symbol is big enough to hold the URL at this size (≥ 1 pixel per module).
    assert build_qr(url).modules_count < 860


async def test_widths_outside_the_allowed_range_are_refused(settings: Settings) -> None:
    user_id, program_id, link_id, _ = await _link()
    wechat = FakeWeChat()
    for width in (279, 1281):
        with pytest.raises(ValidationFailed) as refused:
            await qr_codes.link_wxacode(
                user_id=user_id,
                program_id=program_id,
                link_id=link_id,
                width=width,
                wechat=wechat,
                settings=settings,
            )
        assert refused.value.code == "invalid_width"
    assert wechat.wxacode_calls == []


async def test_only_the_links_approved_owner_gets_its_pictures(settings: Settings) -> None:
    program = await make_program()
    alice = await make_promoter(program)
    bob = await make_promoter(program)
    link, _ = await share_links.create_link(user_id=alice.user_id, program_id=program.id)
    with pytest.raises(NotFound) as not_bobs:
        await qr_codes.link_qr_png(
            user_id=bob.user_id, program_id=program.id, link_id=link.id, settings=settings
        )
    assert not_bobs.value.code == "link_not_found"
    alice.status = "suspended"
    await alice.save()
    with pytest.raises(Forbidden):
        await qr_codes.link_qr_png(
            user_id=alice.user_id, program_id=program.id, link_id=link.id, settings=settings
        )
    assert await QrImage.all().count() == 0
