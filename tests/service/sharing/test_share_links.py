from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from server.config import Settings
from server.domain.errors import Conflict, Forbidden, NotFound
from server.models import ShareLink
from server.services.sharing import channels as share_service
from server.services.sharing import codes as share_codes
from server.services.sharing import links as share_links
from tests.service.sharing.test_share_support import (
    approve_pending_codes,
    grant_site,
    make_program,
    make_promoter,
    make_site,
    make_user,
)

pytestmark = pytest.mark.usefixtures("db")


async def test_the_same_parameters_give_back_the_same_link() -> None:
    program = await make_program()
    alice = await make_promoter(program)
    first, created = await share_links.create_link(
        user_id=alice.user_id, program_id=program.id, utm_source="douyin", utm_campaign="spring"
    )
    again, created_again = await share_links.create_link(
        user_id=alice.user_id, program_id=program.id, utm_source="douyin", utm_campaign="spring"
    )
    assert created and not created_again
    assert again.id == first.id and again.short_code == first.short_code
    other, created_other = await share_links.create_link(
        user_id=alice.user_id, program_id=program.id, utm_source="weibo", utm_campaign="spring"
    )
    assert created_other and other.short_code != first.short_code
    assert await ShareLink.all().count() == 2


async def test_a_link_carries_code_channel_and_utm_in_its_urls(settings: Settings) -> None:
    program = await make_program()
    alice = await make_promoter(program)
    channel = await share_service.create_channel(
        user_id=alice.user_id, program_id=program.id, name="video"
    )
    code = await share_codes.create_code(
        user_id=alice.user_id, program_id=program.id, kind="referral", code="VID-ALICE"
    )
    await approve_pending_codes(program.id)
    link, _ = await share_links.create_link(
        user_id=alice.user_id,
        program_id=program.id,
        channel_id=channel.id,
        code_id=code.id,
        utm_source="douyin",
        utm_medium="video",
        utm_campaign="spring sale",
    )
    body = share_links.serialize_link(link, settings=settings)
    url = urlsplit(body["h5_url"])
    assert f"{url.scheme}://{url.netloc}" == settings.public_base_url
    assert url.path == f"/s/{link.short_code}"
    assert parse_qs(url.query) == {
        "code": ["VID-ALICE"],
        "ch": [str(channel.id)],
        "utm_source": ["douyin"],
        "utm_medium": ["video"],
        "utm_campaign": ["spring sale"],
    }
    assert body["mp_path"] == f"{settings.mp_share_page}?scene={link.short_code}"


async def test_another_promoters_channel_or_code_cannot_be_put_on_my_link() -> None:
    program = await make_program()
    alice = await make_promoter(program)
    bob = await make_promoter(program)
    bobs_channel = await share_service.create_channel(
        user_id=bob.user_id, program_id=program.id, name="bob"
    )
    bobs_code = await share_codes.create_code(
        user_id=bob.user_id, program_id=program.id, kind="referral", code="BOB-1"
    )
    with pytest.raises(NotFound) as channel_refused:
        await share_links.create_link(
            user_id=alice.user_id, program_id=program.id, channel_id=bobs_channel.id
        )
    assert channel_refused.value.code == "channel_not_found"
    with pytest.raises(NotFound) as code_refused:
        await share_links.create_link(
            user_id=alice.user_id, program_id=program.id, code_id=bobs_code.id
        )
    assert code_refused.value.code == "code_not_found"
    assert await ShareLink.all().count() == 0


async def test_a_deactivated_code_or_channel_cannot_go_on_a_new_link() -> None:
    program = await make_program()
    alice = await make_promoter(program)
    code = await share_codes.create_code(
        user_id=alice.user_id, program_id=program.id, kind="referral", code="OLD-1"
    )
    await approve_pending_codes(program.id)
    await share_codes.deactivate_code(user_id=alice.user_id, program_id=program.id, code_id=code.id)
    with pytest.raises(Conflict) as refused:
        await share_links.create_link(user_id=alice.user_id, program_id=program.id, code_id=code.id)
    assert refused.value.code == "code_inactive"
    channel = await share_service.create_channel(
        user_id=alice.user_id, program_id=program.id, name="old"
    )
    await share_service.update_channel(
        user_id=alice.user_id, program_id=program.id, channel_id=channel.id, is_active=False
    )
    with pytest.raises(Conflict) as refused_channel:
        await share_links.create_link(
            user_id=alice.user_id, program_id=program.id, channel_id=channel.id
        )
    assert refused_channel.value.code == "channel_inactive"


async def test_without_grants_any_active_site_may_be_used_with_grants_only_granted_ones() -> None:
    program = await make_program()
    alice = await make_promoter(program)
    cn = await make_site(program, "shop.cn")
    hk = await make_site(program, "shop.hk")
    closed = await make_site(program, "old.cn", is_active=False)
    other_program_site = await make_site(await make_program("Other"), "other.cn")

    link, _ = await share_links.create_link(
        user_id=alice.user_id, program_id=program.id, site_id=hk.id
    )
    assert link.site_id == hk.id
    for site in (closed, other_program_site):
        with pytest.raises(NotFound) as missing:
            await share_links.create_link(
                user_id=alice.user_id, program_id=program.id, site_id=site.id
            )
        assert missing.value.code == "site_not_found"

    await grant_site(alice, cn)
    await share_links.create_link(user_id=alice.user_id, program_id=program.id, site_id=cn.id)
    with pytest.raises(Forbidden) as refused:
        await share_links.create_link(user_id=alice.user_id, program_id=program.id, site_id=hk.id)
    assert refused.value.code == "site_not_authorized"


async def test_a_suspended_promoter_cannot_create_links() -> None:
    program = await make_program()
    alice = await make_promoter(program, status="suspended")
    with pytest.raises(Forbidden):
        await share_links.create_link(user_id=alice.user_id, program_id=program.id)


async def test_the_public_resolver_shows_the_promoter_only_as_invite_code_and_masked_name() -> None:
    program = await make_program()
    user = await make_user(nickname="Alice Wonder")
    alice = await make_promoter(program, user=user, invite_code="ALICE888")
    site = await make_site(program, "shop.cn")
    code = await share_codes.create_code(
        user_id=alice.user_id, program_id=program.id, kind="referral", code="ALICE-LINK"
    )
    await approve_pending_codes(program.id)
    link, _ = await share_links.create_link(
        user_id=alice.user_id,
        program_id=program.id,
        site_id=site.id,
        code_id=code.id,
        utm_source="poster",
    )
    found = share_links.serialize_public_link(
        await share_links.resolve_short_code(short_code=link.short_code)
    )
    assert found["promoter"] == {"invite_code": "ALICE888", "nickname": "A****"}
    assert found["program"] == {"id": program.id, "name": program.name}
    assert found["site"]["domain"] == "shop.cn"
    assert found["code"] == "ALICE-LINK"
    assert found["utm"] == {"source": "poster", "medium": None, "campaign": None}
    assert "user_id" not in str(found) and "openid" not in str(found)

    await share_codes.deactivate_code(user_id=alice.user_id, program_id=program.id, code_id=code.id)
    after = share_links.serialize_public_link(
        await share_links.resolve_short_code(short_code=link.short_code)
    )
    assert after["code"] is None


async def test_short_codes_are_case_sensitive_and_inactive_promoters_links_do_not_resolve() -> None:
    program = await make_program()
    alice = await make_promoter(program)
    link, _ = await share_links.create_link(user_id=alice.user_id, program_id=program.id)
    with pytest.raises(NotFound) as unknown:
        await share_links.resolve_short_code(short_code=link.short_code.swapcase())
    assert unknown.value.code == "link_not_found"
    alice.status = "disabled"
    await alice.save()
    with pytest.raises(NotFound) as inactive:
        await share_links.resolve_short_code(short_code=link.short_code)
    assert inactive.value.code == "link_inactive"
