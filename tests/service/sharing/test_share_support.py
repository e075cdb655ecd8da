"""Builders and a WeChat fake shared by the share-instrument tests (this module holds no
tests itself). Rows are created directly with models so these tests do not depend on the
promoter application flow."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable

from server.domain.errors import UpstreamUnavailable
from server.domain.sharing.codes import generate_code
from server.integrations.qr import render_qr_png
from server.integrations.wechat import WeChatSession
from server.models import Program, Promoter, PromoterSite, ShareCode, Site, User


async def make_program(name: str = "Spring") -> Program:
    return await Program.create(name=name, currency="CNY")


async def make_user(nickname: str | None = "Alice") -> User:
    return await User.create(appid="wx-test", openid=secrets.token_hex(8), nickname=nickname)


async def make_promoter(
    program: Program,
    *,
    user: User | None = None,
    status: str = "approved",
    invite_code: str | None = None,
) -> Promoter:
    return await Promoter.create(
        program=program,
        user=user or await make_user(),
        status=status,
        invite_code=invite_code or generate_code(),
    )


async def make_site(program: Program, domain: str, *, is_active: bool = True) -> Site:
    return await Site.create(program=program, domain=domain, name=domain, is_active=is_active)


async def grant_site(promoter: Promoter, site: Site) -> None:
    await PromoterSite.create(promoter=promoter, site=site)


class FakeWeChat:
    """A WeChatGateway answering wxacode (a real PNG) and URL Link requests, counting them."""

    def __init__(
        self,
        *,
        fail: bool = False,
        content: bytes | None = None,
        before_answer: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.fail = fail
        self.content = content
        self.before_answer = before_answer
        self.wxacode_calls: list[dict[str, object]] = []
        self.messages: list[dict[str, object]] = []
        self.url_link_calls: list[dict[str, object]] = []

    async def code_to_session(self, code: str) -> WeChatSession:
        return WeChatSession(openid=f"openid-{code}", unionid=None, session_key="session")

    async def wxacode_unlimited(self, *, scene: str, page: str, width: int) -> bytes:
        self.wxacode_calls.append({"scene": scene, "page": page, "width": width})
        if self.before_answer is not None:
            await self.before_answer()
        if self.fail:
            raise UpstreamUnavailable("WeChat is unavailable; try again", code="wechat_unavailable")
        return self.content if self.content is not None else render_qr_png(scene, width=width)

    async def generate_url_link(self, *, path: str, query: str, valid_days: int) -> str:
        self.url_link_calls.append({"path": path, "query": query, "valid_days": valid_days})
        if self.fail:
            raise UpstreamUnavailable("WeChat is unavailable; try again", code="wechat_unavailable")
        return f"https://wxaurl.cn/fake{len(self.url_link_calls)}"

    async def send_subscribe_message(
        self, *, openid: str, template_id: str, data: dict[str, dict[str, str]], page: str
    ) -> None:
        self.messages.append({"openid": openid, "template_id": template_id, "page": page})


async def approve_pending_codes(program_id: int) -> None:
    """Staff approve every code promoters chose in the program (custom codes are reviewed)."""
    await ShareCode.filter(program_id=program_id, review_status="pending").update(
        review_status="approved"
    )
