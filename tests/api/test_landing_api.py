"""The landing page at `/s/<short_code>`: the H5 URL every share link and plain QR code
carries opens an HTML page that records the visit and opens the mini-program."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest
from sanic import Sanic

from server.integrations.wechat_standin import WeChatStandIn
from server.models import Program, Promoter, User, Visit
from server.services.sharing.visit_buffer import VisitBuffer
from tests.api.conftest import Api, ApiResponse
from tests.service.sharing.test_share_support import (
    approve_pending_codes,
    make_program,
    make_promoter,
)
from tests.wechat_fixtures import promoter_login

WECHAT_UA = "Mozilla/5.0 (iPhone) MicroMessenger/8.0.44 NetType/WIFI"
URL_LINK_PATH = "/wxa/generate_urllink"


@pytest.fixture(autouse=True)
async def visit_buffer(app: Sanic) -> AsyncIterator[VisitBuffer]:
    app.ctx.visit_targets.clear()
    buffer: VisitBuffer = app.ctx.visit_buffer
    yield buffer
    await buffer.flush()
    app.ctx.visit_targets.clear()


async def _promoter(api: Api, program: Program, identity: str = "alice") -> str:
    login = await promoter_login(api, identity, nickname=identity.title())
    await make_promoter(program, user=await User.get(id=login["user"]["id"]))
    return login["access_token"]


async def _link(api: Api, token: str, program: Program, **params: object) -> ApiResponse:
    response = await api.post(f"/mp/v1/programs/{program.id}/links", token=token, json=params)
    assert response.status == 201, response.text
    return response


async def _open(api: Api, path: str) -> ApiResponse:
    return await api.get(path, headers={"user-agent": WECHAT_UA})


def _assert_safe_html(response: ApiResponse) -> None:
    assert response.content_type.startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src" not in policy
    assert "'unsafe-inline'" not in policy
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"


async def test_a_shared_h5_url_opens_a_landing_with_the_code_and_a_url_link(
    mp_api: Api, standin: WeChatStandIn, visit_buffer: VisitBuffer
) -> None:
    program = await make_program("Spring Tea")
    token = await _promoter(mp_api, program)
    code = await mp_api.post(
        f"/mp/v1/programs/{program.id}/codes", token=token, json={"code": "TEA-42"}
    )
    await approve_pending_codes(program.id)  # a chosen code counts once staff approve it
    link = await _link(mp_api, token, program, code_id=code.json["id"], utm_source="moments")

    h5_url = link.json["h5_url"]
    assert h5_url.startswith(f"{mp_api.app.ctx.settings.public_base_url}/s/")
    shared = urlsplit(h5_url)
    page = await _open(mp_api, f"{shared.path}?{shared.query}")

    assert page.status == 200, page.text
    _assert_safe_html(page)
    assert "Spring Tea" in page.text and "TEA-42" in page.text
    [issued] = standin.url_links
    assert issued.url_link in page.text
    assert issued.query == f"scene={link.json['short_code']}"
    nonce = page.headers["content-security-policy"].split("'nonce-", 1)[1].split("'", 1)[0]
    assert f'<style nonce="{nonce}">' in page.text and "<script" not in page.text
    await visit_buffer.flush()
    visit = await Visit.get()
    assert (visit.share_link_id, visit.source, visit.reached_by) == (link.json["id"], "h5", "link")
    assert visit.utm_source == "moments" and visit.is_bot is False


async def test_a_visit_through_a_plain_qr_code_counts_as_a_scan(
    mp_api: Api, visit_buffer: VisitBuffer
) -> None:
    program = await make_program()
    token = await _promoter(mp_api, program)
    short_code = (await _link(mp_api, token, program)).json["short_code"]

    scanned = await _open(mp_api, f"/s/{short_code}?via=qr")
    opened = await _open(mp_api, f"/s/{short_code}")
    probed = await mp_api.request("HEAD", f"/s/{short_code}", headers={"user-agent": WECHAT_UA})

    assert (scanned.status, opened.status, probed.status) == (200, 200, 200)
    await visit_buffer.flush()
    assert [v.reached_by for v in await Visit.all().order_by("id")] == ["qr", "link"]


async def test_an_unknown_withdrawn_or_overlong_code_gets_a_friendly_404_page(
    mp_api: Api, visit_buffer: VisitBuffer
) -> None:
    program = await make_program()
    token = await _promoter(mp_api, program)
    short_code = (await _link(mp_api, token, program)).json["short_code"]
    await Promoter.filter(program_id=program.id).update(status="disabled")

    overlong, foreign = "/s/" + "x" * 200, "/s/%E4%BD%A0%F0%9F%98%80"
    nested = f"/s/{short_code}/more"
    for path in ("/s/doesnotexist", f"/s/{short_code}", overlong, foreign, nested):
        page = await _open(mp_api, path)
        assert page.status == 404, path
        _assert_safe_html(page)
        assert "链接已失效" in page.text
    await visit_buffer.flush()
    assert not await Visit.exists()


async def test_a_destination_round_trips_to_the_link_the_resolver_and_the_landing(
    mp_api: Api, standin: WeChatStandIn
) -> None:
    program = await make_program()
    token = await _promoter(mp_api, program)
    link = await _link(mp_api, token, program, destination="/pages/product/detail?id=42")
    short_code = link.json["short_code"]

    assert link.json["destination"] == "pages/product/detail?id=42"
    assert link.json["mp_path"] == f"pages/product/detail?id=42&scene={short_code}"
    resolved = await mp_api.get(f"/mp/v1/s/{short_code}")
    assert resolved.json["destination"] == {"page": "pages/product/detail", "query": "id=42"}
    page = await _open(mp_api, f"/s/{short_code}")
    assert page.status == 200 and "pages/product/detail?id=42" in page.text
    [issued] = standin.url_links
    assert (issued.path, issued.query) == ("pages/product/detail", f"id=42&scene={short_code}")
    refused = await mp_api.post(
        f"/mp/v1/programs/{program.id}/links",
        token=token,
        json={"destination": "https://evil.example/pages/x"},
    )
    assert refused.status == 422 and refused.json["error"]["code"] == "invalid_destination"


async def test_when_wechat_cannot_make_a_url_link_the_landing_still_shows_the_code(
    mp_api: Api, standin: WeChatStandIn
) -> None:
    program = await make_program("Spring Tea")
    token = await _promoter(mp_api, program)
    code = await mp_api.post(
        f"/mp/v1/programs/{program.id}/codes", token=token, json={"code": "TEA-42"}
    )
    await approve_pending_codes(program.id)  # a chosen code counts once staff approve it
    link = await _link(mp_api, token, program, code_id=code.json["id"])
    standin.inject_fault("server_error", path=URL_LINK_PATH)

    page = await _open(mp_api, f"/s/{link.json['short_code']}")

    assert page.status == 200 and "TEA-42" in page.text and "wxaurl.cn" not in page.text
    assert standin.url_links == []


async def test_names_on_the_landing_are_escaped_not_run(mp_api: Api) -> None:
    program = await make_program('<script>alert("x")</script>')
    token = await _promoter(mp_api, program, identity="<b>mallory</b>")
    short_code = (await _link(mp_api, token, program)).json["short_code"]

    page = await _open(mp_api, f"/s/{short_code}")

    assert page.status == 200
    assert "<script" not in page.text and "<b>" not in page.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.text


async def test_a_browser_keeps_its_url_link_and_another_browser_gets_its_own(
    mp_api: Api, standin: WeChatStandIn, visit_buffer: VisitBuffer
) -> None:
    program = await make_program()
    token = await _promoter(mp_api, program)
    path = f"/s/{(await _link(mp_api, token, program)).json['short_code']}"

    first = await _open(mp_api, path)
    cookie = first.raw.cookies.get("fx_vid")
    set_cookie = first.headers["set-cookie"].lower()
    again = await mp_api.get(path, headers={"user-agent": WECHAT_UA, "cookie": f"fx_vid={cookie}"})
    elsewhere = await _open(mp_api, path)

    assert cookie and "httponly" in set_cookie and "path=/s/" in set_cookie
    assert "samesite=lax" in set_cookie
    anna, boris = standin.url_links
    assert anna.url_link in first.text and anna.url_link in again.text
    assert boris.url_link in elsewhere.text and anna.url_link not in elsewhere.text
    await visit_buffer.flush()
    hashes = [v.visitor_hash for v in await Visit.all().order_by("id")]
    assert hashes[0] == hashes[1] != hashes[2]


async def test_behind_https_the_visitor_cookie_is_secure(mp_api: Api) -> None:
    program = await make_program()
    token = await _promoter(mp_api, program)
    path = f"/s/{(await _link(mp_api, token, program)).json['short_code']}"
    settings = mp_api.app.ctx.settings
    mp_api.app.ctx.settings = dataclasses.replace(settings, public_base_url="https://fx.example")

    page = await _open(mp_api, path)

    assert "secure" in page.headers["set-cookie"].lower()
