"""The WeChat gateway the services depend on. The wechatpy-backed implementation lives in
`server/integrations/wechat_client.py`; tests and `make run` point it at the stand-in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class WeChatSession:
    openid: str
    unionid: str | None
    session_key: str


class WeChatGateway(Protocol):
    async def code_to_session(self, code: str) -> WeChatSession:
        """jscode2session; raises UpstreamUnavailable / Unauthorized(invalid_wechat_code)."""
        ...

    async def wxacode_unlimited(self, *, scene: str, page: str, width: int) -> bytes:
        """A mini-program code PNG for `scene` (getwxacodeunlimit)."""
        ...

    async def generate_url_link(self, *, path: str, query: str, valid_days: int) -> str:
        """A URL Link (https://wxaurl.cn/…) opening `path?query` for `valid_days` days
        (generate_urllink; WeChat allows at most 30)."""
        ...

    async def send_subscribe_message(
        self, *, openid: str, template_id: str, data: dict[str, dict[str, str]], page: str
    ) -> None:
        """A subscribe message to one user."""
        ...
