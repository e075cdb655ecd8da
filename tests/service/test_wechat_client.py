"""The wechatpy gateway against the WeChat stand-in, over real HTTP."""

from __future__ import annotations

import asyncio
import dataclasses
import io

import httpx
import pytest
from PIL import Image

from server.config import Settings
from server.domain.errors import (
    Forbidden,
    Unauthorized,
    UpstreamUnavailable,
    ValidationFailed,
)
from server.integrations.wechat import WeChatGateway
from server.integrations.wechat_client import build_gateway
from server.integrations.wechat_standin import WeChatStandIn
from server.models import RefreshToken, User
from server.services.access.users import login_with_wechat
from tests.wechat_fixtures import expected_openid, login_code

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
WXACODE_PATH = "/wxa/getwxacodeunlimit"
CODE2SESSION_PATH = "/sns/jscode2session"


async def _login(gateway: WeChatGateway, settings: Settings, code: str) -> dict[str, object]:
    return await login_with_wechat(
        code=code,
        nickname=None,
        avatar_url=None,
        client_address="127.0.0.1",
        wechat=gateway,
        settings=settings,
    )


async def test_a_login_code_resolves_to_the_same_openid_for_the_same_person(
    wechat_gateway: WeChatGateway, wechat_settings: Settings
) -> None:
    first = await wechat_gateway.code_to_session(login_code("alice"))
    second = await wechat_gateway.code_to_session(login_code("alice"))
    other = await wechat_gateway.code_to_session(login_code("bob"))

    assert first.openid == second.openid == expected_openid("alice", wechat_settings)
    assert other.openid != first.openid
    assert first.unionid and first.unionid == second.unionid
    assert first.session_key


async def test_an_invalid_code_is_refused_as_invalid_wechat_code(
    wechat_gateway: WeChatGateway,
) -> None:
    with pytest.raises(Unauthorized) as refused:
        await wechat_gateway.code_to_session("invalid-code")
    assert refused.value.code == "invalid_wechat_code"
    assert refused.value.status_code == 401


async def test_a_login_code_can_be_used_only_once(wechat_gateway: WeChatGateway) -> None:
    code = login_code("carol")
    await wechat_gateway.code_to_session(code)
    with pytest.raises(Unauthorized) as refused:
        await wechat_gateway.code_to_session(code)
    assert refused.value.code == "invalid_wechat_code"


@pytest.mark.parametrize("fault", ["timeout", "disconnect", "server_error", "garbage", "busy"])
async def test_wechat_failing_during_login_is_a_502_and_writes_nothing(
    db: str, standin: WeChatStandIn, wechat_settings: Settings, fault: str
) -> None:
    # One second is enough for loopback and keeps the timeout case short.
    settings = dataclasses.replace(wechat_settings, wechat_timeout_seconds=1)
    gateway = build_gateway(settings)
    standin.inject_fault(fault, path=CODE2SESSION_PATH)  # type: ignore[arg-type]

    with pytest.raises(UpstreamUnavailable) as failed:
        await _login(gateway, settings, login_code("dave"))

    assert failed.value.code == "wechat_unavailable"
    assert failed.value.status_code == 502
    assert await User.all().count() == 0
    assert await RefreshToken.all().count() == 0
    # WeChat back: the next login goes through.
    result = await _login(gateway, settings, login_code("dave"))
    assert result["access_token"]
    assert await User.all().count() == 1


async def test_wechat_unreachable_is_a_502(wechat_settings: Settings) -> None:
    gateway = build_gateway(wechat_settings, api_base="http://127.0.0.1:1")
    with pytest.raises(UpstreamUnavailable) as failed:
        await gateway.code_to_session(login_code("erin"))
    assert failed.value.code == "wechat_unavailable"


async def test_a_failing_token_endpoint_is_a_502(
    standin: WeChatStandIn, wechat_settings: Settings
) -> None:
    gateway = build_gateway(wechat_settings)
    standin.inject_fault("garbage", path="/cgi-bin/token")
    with pytest.raises(UpstreamUnavailable):
        await gateway.wxacode_unlimited(scene="abc", page="pages/index/index", width=430)


async def test_a_wrong_app_secret_is_a_502_not_the_users_fault(
    standin: WeChatStandIn, wechat_settings: Settings
) -> None:
    gateway = build_gateway(dataclasses.replace(wechat_settings, wechat_secret="not-the-secret"))
    with pytest.raises(UpstreamUnavailable) as failed:
        await gateway.code_to_session(login_code("frank"))
    assert failed.value.code == "wechat_unavailable"


async def test_the_access_token_is_fetched_once_and_reused(
    standin: WeChatStandIn, wechat_settings: Settings
) -> None:
    gateway = build_gateway(wechat_settings)
    before = standin.token_fetches
    await gateway.wxacode_unlimited(scene="one", page="pages/index/index", width=430)
    await gateway.wxacode_unlimited(scene="two", page="pages/index/index", width=430)
    await gateway.code_to_session(login_code("gina"))
    assert standin.token_fetches - before == 1


async def test_concurrent_first_calls_share_one_access_token(
    standin: WeChatStandIn, wechat_settings: Settings
) -> None:
    gateway = build_gateway(wechat_settings)
    before = standin.token_fetches
    sessions = await asyncio.gather(
        *(gateway.code_to_session(login_code(f"crowd-{n}")) for n in range(8))
    )
    assert len({session.openid for session in sessions}) == 8
    assert standin.token_fetches - before == 1


async def test_an_expired_access_token_is_replaced_and_the_call_retried(
    standin: WeChatStandIn, wechat_settings: Settings
) -> None:
    gateway = build_gateway(wechat_settings)
    await gateway.wxacode_unlimited(scene="before", page="pages/index/index", width=430)
    standin.expire_tokens()
    before = standin.token_fetches

    png = await gateway.wxacode_unlimited(scene="after", page="pages/index/index", width=430)

    assert png.startswith(PNG_SIGNATURE)
    assert standin.token_fetches - before == 1


async def test_a_token_rejected_again_after_a_refetch_is_not_retried_forever(
    standin: WeChatStandIn, wechat_settings: Settings
) -> None:
    gateway = build_gateway(wechat_settings)
    standin.inject_fault("expired_token", times=5, path=WXACODE_PATH)

    with pytest.raises(UpstreamUnavailable):
        await gateway.wxacode_unlimited(scene="abc", page="pages/index/index", width=430)

    assert standin.calls.count(WXACODE_PATH) == 2
    assert standin.pending_faults == 3


@pytest.mark.parametrize("width", [280, 430, 1280])
async def test_the_mini_program_code_is_a_png_of_the_requested_width(
    wechat_gateway: WeChatGateway, width: int
) -> None:
    png = await wechat_gateway.wxacode_unlimited(
        scene="p=AB12cd", page="pages/index/index", width=width
    )
    assert png.startswith(PNG_SIGNATURE)
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    assert image.size == (width, width)
    # A code has both dark modules and light background.
    assert image.convert("L").getextrema() == (0, 255)


async def test_a_scene_longer_than_32_characters_is_refused(
    wechat_gateway: WeChatGateway,
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        await wechat_gateway.wxacode_unlimited(scene="x" * 33, page="pages/index/index", width=430)
    assert refused.value.code == "invalid_scene"
    assert "scene" in refused.value.fields


async def test_a_page_with_a_leading_slash_is_refused(wechat_gateway: WeChatGateway) -> None:
    with pytest.raises(ValidationFailed) as refused:
        await wechat_gateway.wxacode_unlimited(scene="abc", page="/pages/index", width=430)
    assert refused.value.code == "invalid_page"


async def test_a_garbage_answer_instead_of_a_code_image_is_a_502(
    standin: WeChatStandIn, wechat_gateway: WeChatGateway
) -> None:
    standin.inject_fault("garbage", path=WXACODE_PATH)
    with pytest.raises(UpstreamUnavailable):
        await wechat_gateway.wxacode_unlimited(scene="abc", page="pages/index/index", width=430)


async def test_a_subscribe_message_reaches_wechat_as_sent(
    standin: WeChatStandIn, wechat_gateway: WeChatGateway, wechat_settings: Settings
) -> None:
    openid = expected_openid("hana", wechat_settings)
    await wechat_gateway.send_subscribe_message(
        openid=openid,
        template_id="tpl-commission",
        data={"amount1": {"value": "12.50"}, "thing2": {"value": "order 1001"}},
        page="pages/commissions/index",
    )
    [message] = standin.sent_messages
    assert message.touser == openid
    assert message.template_id == "tpl-commission"
    assert message.page == "pages/commissions/index"
    assert message.data["amount1"] == {"value": "12.50"}


async def test_a_message_to_a_user_who_did_not_subscribe_is_refused(
    standin: WeChatStandIn, wechat_gateway: WeChatGateway
) -> None:
    standin.refuse_messages_for("o-refusing")
    with pytest.raises(Forbidden) as refused:
        await wechat_gateway.send_subscribe_message(
            openid="o-refusing",
            template_id="tpl",
            data={"thing1": {"value": "hi"}},
            page="pages/index/index",
        )
    assert refused.value.code == "wechat_message_refused"
    assert standin.sent_messages == []


URL_LINK_PATH = "/wxa/generate_urllink"


async def test_a_url_link_opens_the_page_and_query_asked_for_and_survives_a_stale_token(
    standin: WeChatStandIn, wechat_gateway: WeChatGateway
) -> None:
    first = await wechat_gateway.generate_url_link(
        path="pages/product/detail", query="id=42&scene=aB3", valid_days=29
    )
    standin.expire_tokens()
    second = await wechat_gateway.generate_url_link(
        path="pages/index/index", query="scene=aB3", valid_days=1
    )

    assert first.startswith("https://wxaurl.cn/") and second != first
    issued = standin.url_links
    assert [(i.url_link, i.path, i.query) for i in issued] == [
        (first, "pages/product/detail", "id=42&scene=aB3"),
        (second, "pages/index/index", "scene=aB3"),
    ]
    # 29 days against 1, give or take the second that may tick between the two calls.
    assert round((issued[0].expire_time - issued[1].expire_time) / 86400) == 28
    async with httpx.AsyncClient() as client:
        listed = await client.get(f"{standin.base_url}/__standin__/url-links")
    assert [i["url_link"] for i in listed.json()["url_links"]] == [first, second]


@pytest.mark.parametrize(
    ("request_", "code"),
    [
        ({"path": "/pages/index", "query": "", "valid_days": 1}, "invalid_page"),
        ({"path": "pages/index", "query": "a=<b>", "valid_days": 1}, "invalid_query"),
        ({"path": "pages/index", "query": "", "valid_days": 31}, "invalid_expiry"),
    ],
)
async def test_a_url_link_wechat_refuses_is_a_coded_validation_error(
    wechat_gateway: WeChatGateway, request_: dict[str, object], code: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        await wechat_gateway.generate_url_link(**request_)  # type: ignore[arg-type]
    assert refused.value.code == code


async def test_a_url_link_answer_without_a_link_is_a_502(
    standin: WeChatStandIn, wechat_gateway: WeChatGateway
) -> None:
    standin.inject_fault("garbage", path=URL_LINK_PATH)
    with pytest.raises(UpstreamUnavailable):
        await wechat_gateway.generate_url_link(path="pages/index/index", query="", valid_days=1)
    assert standin.url_links == []
