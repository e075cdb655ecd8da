from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from server import clock
from server.config import Settings
from server.domain.errors import NotFound, ValidationFailed
from server.domain.sharing.attribution import TouchSource
from server.integrations.qr import render_qr_png
from server.models import Program, Promoter, ShareLink, ShareUrlLink, Visit
from server.services.sharing import codes as share_codes
from server.services.sharing import landing, qr_codes
from server.services.sharing import links as share_links
from server.services.sharing.visit_buffer import VisitBuffer
from server.services.sharing.visit_targets import TargetCache
from tests.service.sharing.test_share_support import FakeWeChat, make_program, make_promoter

pytestmark = pytest.mark.usefixtures("db")

WECHAT_UA = "Mozilla/5.0 (iPhone) MicroMessenger/8.0.44 NetType/WIFI"
ANNA, BORIS = "browser-of-anna-0001", "browser-of-boris-002"


async def _sharing(**link_params: str) -> tuple[Program, Promoter, ShareLink]:
    program = await make_program()
    alice = await make_promoter(program)
    link, _ = await share_links.create_link(
        user_id=alice.user_id, program_id=program.id, **link_params
    )
    return program, alice, link


def _opened(
    reached_by: TouchSource = TouchSource.LINK,
    *,
    visitor: str = ANNA,
    user_agent: str = WECHAT_UA,
    **utm: str,
) -> landing.LandingVisit:
    return landing.LandingVisit(
        reached_by=reached_by, visitor_id=visitor, ip="203.0.113.9", user_agent=user_agent, **utm
    )


ANNA_OPENS = _opened()


async def _open(
    link: ShareLink,
    buffer: VisitBuffer,
    settings: Settings,
    wechat: FakeWeChat,
    *,
    visit: landing.LandingVisit | None = ANNA_OPENS,
    pause: landing.WeChatPause | None = None,
) -> landing.Landing:
    return await landing.open_landing(
        short_code=link.short_code,
        visit=visit,
        buffer=buffer,
        targets=TargetCache(),
        settings=settings,
        wechat=wechat,
        pause=pause or landing.WeChatPause(),
    )


async def test_each_open_of_a_landing_records_exactly_one_visit(
    buffer: VisitBuffer, settings: Settings
) -> None:
    _, alice, link = await _sharing(utm_source="poster")
    wechat = FakeWeChat()

    await _open(link, buffer, settings, wechat, visit=_opened())
    await _open(link, buffer, settings, wechat, visit=_opened(TouchSource.QR, utm_source="wall"))
    await _open(link, buffer, settings, wechat, visit=None)
    await buffer.flush()

    recorded = await Visit.all().order_by("id")
    assert [(v.reached_by, v.source, v.utm_source) for v in recorded] == [
        ("link", "h5", "poster"),
        ("qr", "h5", "wall"),
    ]
    assert {(v.promoter_id, v.share_link_id, v.is_bot) for v in recorded} == {
        (alice.id, link.id, False)
    }


async def test_a_landing_shows_the_program_the_masked_promoter_and_the_code_to_type(
    buffer: VisitBuffer, settings: Settings
) -> None:
    program = await make_program("Spring Tea")
    alice = await make_promoter(program)
    code = await share_codes.create_code(
        user_id=alice.user_id, program_id=program.id, kind="referral", code="TEA42"
    )
    bare, _ = await share_links.create_link(user_id=alice.user_id, program_id=program.id)

    page = await _open(bare, buffer, settings, FakeWeChat())

    assert (page.program_name, page.code, page.destination) == ("Spring Tea", "TEA42", None)
    assert page.promoter_nickname is not None and page.promoter_nickname != "Alice"
    await share_codes.deactivate_code(user_id=alice.user_id, program_id=program.id, code_id=code.id)
    assert (await _open(bare, buffer, settings, FakeWeChat())).code is None


async def test_the_url_link_is_asked_of_wechat_once_then_served_from_the_cache(
    buffer: VisitBuffer, settings: Settings
) -> None:
    _, _, link = await _sharing()
    wechat = FakeWeChat()

    first = await _open(link, buffer, settings, wechat)
    second = await _open(link, buffer, settings, wechat)

    assert first.url_link == second.url_link == "https://wxaurl.cn/fake1"
    assert wechat.url_link_calls == [
        {
            "path": settings.mp_share_page,
            "query": f"scene={link.short_code}",
            "valid_days": landing.URL_LINK_VALID_DAYS,
        }
    ]
    stored = await ShareUrlLink.get(share_link_id=link.id)
    assert stored.expires_at - stored.refreshed_at == timedelta(days=landing.URL_LINK_VALID_DAYS)


async def test_a_url_link_about_to_expire_is_replaced_and_the_new_one_kept(
    buffer: VisitBuffer, settings: Settings
) -> None:
    _, _, link = await _sharing()
    wechat = FakeWeChat()
    await _open(link, buffer, settings, wechat)

    clock.advance(timedelta(days=landing.URL_LINK_VALID_DAYS) - timedelta(hours=25))
    assert (await _open(link, buffer, settings, wechat)).url_link == "https://wxaurl.cn/fake1"
    clock.advance(timedelta(hours=2))
    refreshed = await _open(link, buffer, settings, wechat)
    again = await _open(link, buffer, settings, wechat)

    assert refreshed.url_link == again.url_link == "https://wxaurl.cn/fake2"
    assert len(wechat.url_link_calls) == 2
    [stored] = await ShareUrlLink.filter(share_link_id=link.id)
    assert stored.url == "https://wxaurl.cn/fake2"
    assert stored.expires_at > clock.now() + timedelta(days=landing.URL_LINK_VALID_DAYS - 1)


async def test_when_wechat_fails_the_landing_still_opens_with_the_code_and_caches_nothing(
    buffer: VisitBuffer, settings: Settings
) -> None:
    _, _, link = await _sharing()

    page = await _open(link, buffer, settings, FakeWeChat(fail=True), visit=_opened())

    assert page.url_link is None and page.short_code == link.short_code
    assert not await ShareUrlLink.exists()
    await buffer.flush()
    assert await Visit.filter(share_link_id=link.id).count() == 1


async def test_an_unknown_or_withdrawn_link_has_no_landing_and_records_nothing(
    buffer: VisitBuffer, settings: Settings
) -> None:
    _, alice, link = await _sharing()
    for short_code in ("nope", "x" * 40):
        with pytest.raises(NotFound):
            await landing.open_landing(
                short_code=short_code,
                visit=_opened(),
                buffer=buffer,
                targets=TargetCache(),
                settings=settings,
                wechat=FakeWeChat(),
                pause=landing.WeChatPause(),
            )
    await Promoter.filter(id=alice.id).update(status="disabled")
    with pytest.raises(NotFound):
        await _open(link, buffer, settings, FakeWeChat(), visit=_opened())
    await buffer.flush()
    assert not await Visit.exists()


async def test_a_destination_is_carried_into_the_wxacode_the_url_link_and_the_landing(
    buffer: VisitBuffer, settings: Settings
) -> None:
    program, alice, link = await _sharing(destination="/pages/product/detail?id=42")
    wechat = FakeWeChat()

    page = await _open(link, buffer, settings, wechat)
    await qr_codes.link_wxacode(
        user_id=alice.user_id,
        program_id=program.id,
        link_id=link.id,
        wechat=wechat,
        settings=settings,
    )

    assert link.destination == "pages/product/detail?id=42"
    assert str(page.destination) == "pages/product/detail?id=42"
    assert wechat.url_link_calls[0]["path"] == "pages/product/detail"
    assert wechat.url_link_calls[0]["query"] == f"id=42&scene={link.short_code}"
    assert wechat.wxacode_calls[0]["page"] == "pages/product/detail"
    assert wechat.wxacode_calls[0]["scene"] == link.short_code
    assert share_links.mp_path(link, settings=settings) == (
        f"pages/product/detail?id=42&scene={link.short_code}"
    )


async def test_the_same_parameters_with_another_destination_make_another_link() -> None:
    program = await make_program()
    alice = await make_promoter(program)

    async def made(destination: str | None) -> tuple[int, bool]:
        link, created = await share_links.create_link(
            user_id=alice.user_id, program_id=program.id, destination=destination
        )
        return link.id, created

    plain, _ = await made(None)
    product, created = await made("pages/product/detail?id=42")
    assert created and product != plain
    assert await made("/pages/product/detail?id=42") == (product, False)
    assert await made(None) == (plain, False)
    with pytest.raises(ValidationFailed) as refused:
        await made("https://evil.example/")
    assert refused.value.code == "invalid_destination"


async def test_a_plain_qr_code_encodes_the_h5_url_marked_as_a_scan(settings: Settings) -> None:
    program, alice, link = await _sharing(utm_source="poster")

    picture = await qr_codes.link_qr_png(
        user_id=alice.user_id, program_id=program.id, link_id=link.id, width=430, settings=settings
    )

    scanned_url = share_links.h5_url(link, settings=settings, via="qr")
    assert scanned_url.endswith("?utm_source=poster&via=qr")
    assert picture.content == render_qr_png(scanned_url, width=430)


async def test_a_url_link_to_a_page_the_program_no_longer_shares_is_replaced(
    buffer: VisitBuffer, settings: Settings
) -> None:
    _, _, link = await _sharing()
    wechat = FakeWeChat()
    await _open(link, buffer, settings, wechat)

    moved = dataclasses.replace(settings, mp_share_page="pages/share/index")
    page = await _open(link, buffer, moved, wechat)

    assert page.url_link == "https://wxaurl.cn/fake2"
    assert [call["path"] for call in wechat.url_link_calls] == [
        settings.mp_share_page,
        "pages/share/index",
    ]
    assert (await ShareUrlLink.get(share_link_id=link.id)).opens == (
        f"pages/share/index?scene={link.short_code}"
    )


async def test_each_visitor_gets_a_url_link_of_their_own_and_keeps_it(
    buffer: VisitBuffer, settings: Settings
) -> None:
    # WeChat lets only the first person who opens a URL Link use it: one link for all would
    # open the mini-program for the first customer and fail every other one.
    _, _, link = await _sharing()
    wechat = FakeWeChat()

    anna = await _open(link, buffer, settings, wechat, visit=_opened(visitor=ANNA))
    boris = await _open(link, buffer, settings, wechat, visit=_opened(visitor=BORIS))
    anna_again = await _open(link, buffer, settings, wechat, visit=_opened(visitor=ANNA))

    assert (anna.url_link, boris.url_link, anna_again.url_link) == (
        "https://wxaurl.cn/fake1",
        "https://wxaurl.cn/fake2",
        "https://wxaurl.cn/fake1",
    )
    assert len(wechat.url_link_calls) == 2
    await buffer.flush()
    kept = {row.visitor_hash for row in await ShareUrlLink.filter(share_link_id=link.id)}
    assert kept == {v.visitor_hash for v in await Visit.filter(share_link_id=link.id)}


async def test_crawlers_and_head_requests_spend_no_url_link(
    buffer: VisitBuffer, settings: Settings
) -> None:
    _, _, link = await _sharing()
    wechat = FakeWeChat()

    previewed = await _open(link, buffer, settings, wechat, visit=_opened(user_agent="Slackbot/1"))
    probed = await _open(link, buffer, settings, wechat, visit=None)

    assert previewed.url_link is None and probed.url_link is None
    assert wechat.url_link_calls == [] and not await ShareUrlLink.exists()


async def test_expired_url_links_are_deleted_as_new_ones_are_made(
    buffer: VisitBuffer, settings: Settings
) -> None:
    _, _, link = await _sharing()
    _, _, other = await _sharing()
    wechat = FakeWeChat()
    await _open(link, buffer, settings, wechat, visit=_opened(visitor=ANNA))
    await _open(other, buffer, settings, wechat, visit=_opened(visitor=BORIS))

    clock.advance(timedelta(days=landing.URL_LINK_VALID_DAYS, minutes=1))
    await _open(link, buffer, settings, wechat, visit=_opened(visitor="browser-of-carl-003"))

    assert await ShareUrlLink.all().count() == 1


async def test_after_wechat_fails_pages_stop_asking_for_a_while_then_ask_again(
    buffer: VisitBuffer, settings: Settings
) -> None:
    _, _, link = await _sharing()
    down, pause = FakeWeChat(fail=True), landing.WeChatPause()

    first = await _open(link, buffer, settings, down, visit=_opened(visitor=ANNA), pause=pause)
    second = await _open(link, buffer, settings, down, visit=_opened(visitor=BORIS), pause=pause)
    assert first.url_link is None and second.url_link is None
    assert len(down.url_link_calls) == 1

    clock.advance(landing.WECHAT_PAUSE)
    back = FakeWeChat()
    later = await _open(link, buffer, settings, back, visit=_opened(visitor=BORIS), pause=pause)
    assert later.url_link == "https://wxaurl.cn/fake1"
