"""Quotas on what promoters create: links, codes and channels per promoter (program settings),
QR pictures in a fixed set of sizes made once each, and a per-promoter limit on new
mini-program codes asked of WeChat."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta

import pytest

from server import clock
from server.config import Settings
from server.domain.errors import TooManyRequests, ValidationFailed
from server.domain.sharing.qr import QR_SIZES
from server.models import Program, QrImage, ShareLink
from server.services.sharing import channels as share_channels
from server.services.sharing import links as share_links
from server.services.sharing import qr_codes
from tests.service.sharing.test_share_support import FakeWeChat, make_program, make_promoter

pytestmark = pytest.mark.usefixtures("db")


async def _program(**rules: object) -> Program:
    program = await make_program()
    program.sharing_rules = rules
    await program.save()
    return program


async def test_a_promoter_creates_at_most_the_programs_quota_of_links() -> None:
    program = await _program(max_links_per_promoter=2)
    alice, bob = await make_promoter(program), await make_promoter(program)
    for source in ("a", "b"):
        await share_links.create_link(
            user_id=alice.user_id, program_id=program.id, utm_source=source
        )
    with pytest.raises(ValidationFailed) as refused:
        await share_links.create_link(user_id=alice.user_id, program_id=program.id, utm_source="c")
    assert refused.value.code == "quota_exceeded"
    assert refused.value.fields == {"quota": "links", "limit": 2}
    # Asking again for a link that exists is no new link; another promoter has their own quota.
    same, created = await share_links.create_link(
        user_id=alice.user_id, program_id=program.id, utm_source="a"
    )
    assert created is False and same.utm_source == "a"
    await share_links.create_link(user_id=bob.user_id, program_id=program.id, utm_source="c")
    assert await ShareLink.filter(promoter_id=alice.id).count() == 2


async def test_a_promoter_creates_at_most_the_programs_quota_of_channels() -> None:
    program = await _program(max_channels_per_promoter=1)
    alice = await make_promoter(program)
    await share_channels.create_channel(user_id=alice.user_id, program_id=program.id, name="tv")
    with pytest.raises(ValidationFailed) as refused:
        await share_channels.create_channel(
            user_id=alice.user_id, program_id=program.id, name="radio"
        )
    assert refused.value.code == "quota_exceeded"
    assert refused.value.fields == {"quota": "channels", "limit": 1}


async def test_the_default_quotas_hold_without_any_setting() -> None:
    program = await make_program()
    alice = await make_promoter(program)
    # 200 links by default: filling them directly, then the next one through the service.
    await ShareLink.bulk_create(
        [
            ShareLink(
                program_id=program.id,
                promoter_id=alice.id,
                short_code=f"q{index:06d}",
                params_key=f"key-{index}",
            )
            for index in range(200)
        ]
    )
    with pytest.raises(ValidationFailed) as refused:
        await share_links.create_link(user_id=alice.user_id, program_id=program.id)
    assert refused.value.fields == {"quota": "links", "limit": 200}


async def _link() -> tuple[int, int, int]:
    program = await make_program()
    alice = await make_promoter(program)
    link, _ = await share_links.create_link(user_id=alice.user_id, program_id=program.id)
    return alice.user_id, program.id, link.id


async def test_qr_pictures_come_only_in_the_fixed_sizes(settings: Settings) -> None:
    user_id, program_id, link_id = await _link()
    wechat = FakeWeChat()
    mine = {"user_id": user_id, "program_id": program_id, "link_id": link_id}
    for width in (281, 300, 500, 1279, 2048):
        with pytest.raises(ValidationFailed) as refused:
            await qr_codes.link_qr_png(**mine, width=width, settings=settings)
        assert refused.value.code == "invalid_width"
        assert refused.value.fields == {"width": list(QR_SIZES)}
        with pytest.raises(ValidationFailed):
            await qr_codes.link_wxacode(**mine, width=width, wechat=wechat, settings=settings)
    assert wechat.wxacode_calls == [] and await QrImage.all().count() == 0
    for width in QR_SIZES * 2:
        await qr_codes.link_qr_png(**mine, width=width, settings=settings)
    assert await QrImage.filter(share_link_id=link_id).count() == len(QR_SIZES)


async def test_new_wxacodes_are_rate_limited_per_promoter_and_stored_ones_are_not(
    settings: Settings,
) -> None:
    limited = dataclasses.replace(settings, wxacode_calls_per_window=2, wxacode_window_seconds=60)
    user_id, program_id, link_id = await _link()
    other_user, other_program, other_link = await _link()
    wechat = FakeWeChat()

    async def wxacode(
        width: int, *, user: int = user_id, program: int = program_id, link: int = link_id
    ) -> None:
        await qr_codes.link_wxacode(
            user_id=user,
            program_id=program,
            link_id=link,
            width=width,
            wechat=wechat,
            settings=limited,
        )

    await wxacode(280)
    await wxacode(430)
    with pytest.raises(TooManyRequests) as refused:
        await wxacode(860)
    assert refused.value.code == "wechat_calls_limited"
    assert 1 <= refused.value.fields["retry_after_seconds"] <= 60
    assert len(wechat.wxacode_calls) == 2
    # Stored pictures are served at once; another promoter has their own window.
    await wxacode(280)
    await wxacode(430)
    await wxacode(860, user=other_user, program=other_program, link=other_link)
    assert len(wechat.wxacode_calls) == 3

    clock.advance(timedelta(seconds=60))
    await wxacode(860)
    assert len(wechat.wxacode_calls) == 4


async def test_concurrent_new_wxacodes_never_exceed_the_promoters_window(
    settings: Settings,
) -> None:
    limited = dataclasses.replace(settings, wxacode_calls_per_window=3)
    program = await make_program()
    alice = await make_promoter(program)
    links = [
        (
            await share_links.create_link(
                user_id=alice.user_id, program_id=program.id, utm_source=f"s{index}"
            )
        )[0]
        for index in range(3)
    ]
    wechat = FakeWeChat()

    async def ask(link_id: int, width: int) -> str:
        try:
            await qr_codes.link_wxacode(
                user_id=alice.user_id,
                program_id=program.id,
                link_id=link_id,
                width=width,
                wechat=wechat,
                settings=limited,
            )
        except TooManyRequests:
            return "limited"
        return "made"

    outcomes = await asyncio.gather(*(ask(link.id, width) for link in links for width in QR_SIZES))
    assert sorted(outcomes) == ["limited"] * 9 + ["made"] * 3
    assert len(wechat.wxacode_calls) == 3
    assert await QrImage.filter(kind="wxacode").count() == 3


async def test_concurrent_creations_never_pass_the_quota() -> None:
    program = await _program(max_channels_per_promoter=2)
    alice = await make_promoter(program)

    async def create(name: str) -> str:
        try:
            await share_channels.create_channel(
                user_id=alice.user_id, program_id=program.id, name=name
            )
        except ValidationFailed as refused:
            return refused.code
        return "created"

    outcomes = await asyncio.gather(*(create(f"ch-{index}") for index in range(6)))
    assert sorted(outcomes) == ["created"] * 2 + ["quota_exceeded"] * 4
