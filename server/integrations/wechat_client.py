"""The WeChatGateway on wechatpy 1.8, which is synchronous (requests): every call runs in a
worker thread. WeChat's answers become the product's coded errors here, so services never
see a wechatpy exception."""

from __future__ import annotations

import asyncio
import io
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import requests
from PIL import Image, UnidentifiedImageError
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException

from server.config import Settings
from server.domain.errors import (
    FenxiaoError,
    Forbidden,
    TooManyRequests,
    Unauthorized,
    UpstreamUnavailable,
    ValidationFailed,
)
from server.integrations.wechat import WeChatGateway, WeChatSession

log = logging.getLogger("fenxiao.wechat")

T = TypeVar("T")

DEFAULT_TOKEN_TTL_SECONDS = 7200
# WeChat's ways of saying "your access token is stale": fetch a new one and retry once.
TOKEN_REJECTED_ERRCODES = frozenset({40001, 40014, 42001})
# Our own credentials or server set-up are wrong: an operator must act, not the user.
MISCONFIGURATION_ERRCODES = frozenset({40013, 40125, 40164, 41002, 41004, 61024})


@dataclass(frozen=True)
class _Refusal:
    """How one WeChat errcode reaches our caller."""

    error: type[FenxiaoError]
    code: str
    message: str
    field: str | None = None

    def build(self) -> FenxiaoError:
        fields = {self.field: self.message} if self.field else None
        return self.error(self.message, code=self.code, fields=fields)


_RATE_LIMITED = _Refusal(
    TooManyRequests, "wechat_rate_limited", "WeChat is limiting requests; retry in a minute"
)

LOGIN_REFUSALS: Mapping[int, _Refusal] = {
    40029: _Refusal(Unauthorized, "invalid_wechat_code", "the WeChat login code is invalid"),
    40163: _Refusal(Unauthorized, "invalid_wechat_code", "the WeChat login code was already used"),
    40226: _Refusal(Forbidden, "wechat_user_blocked", "WeChat blocked this account's login"),
    45009: _RATE_LIMITED,
    45011: _RATE_LIMITED,
}

WXACODE_REFUSALS: Mapping[int, _Refusal] = {
    40169: _Refusal(
        ValidationFailed, "invalid_scene", "the scene must be 1 to 32 characters", "scene"
    ),
    40129: _Refusal(
        ValidationFailed, "invalid_scene", "the scene has characters WeChat refuses", "scene"
    ),
    41030: _Refusal(
        ValidationFailed, "invalid_page", "the page is not a published mini-program page", "page"
    ),
    45009: _RATE_LIMITED,
}

URL_LINK_REFUSALS: Mapping[int, _Refusal] = {
    40165: _Refusal(
        ValidationFailed, "invalid_page", "the page is not a published mini-program page", "path"
    ),
    40212: _Refusal(ValidationFailed, "invalid_query", "WeChat refuses this query", "query"),
    85401: _Refusal(
        ValidationFailed, "invalid_expiry", "a URL Link lives 1 minute to 30 days", "valid_days"
    ),
    44990: _RATE_LIMITED,
    45009: _RATE_LIMITED,
}

MESSAGE_REFUSALS: Mapping[int, _Refusal] = {
    40003: _Refusal(ValidationFailed, "invalid_openid", "WeChat does not know this user", "openid"),
    40037: _Refusal(
        ValidationFailed, "invalid_template", "WeChat does not know this template", "template_id"
    ),
    47003: _Refusal(
        ValidationFailed, "invalid_message_data", "the data does not fit the template", "data"
    ),
    43101: _Refusal(
        Forbidden, "wechat_message_refused", "the user has not subscribed to this message"
    ),
    45009: _RATE_LIMITED,
}


class _MalformedReply(Exception):
    """WeChat answered, but not with what its protocol promises."""


def _unavailable() -> UpstreamUnavailable:
    return UpstreamUnavailable("WeChat is unavailable; try again", code="wechat_unavailable")


class _PointedWeChatClient(WeChatClient):
    """wechatpy's client aimed at `api_base` for every call, the token fetch included."""

    def __init__(self, *, appid: str, secret: str, api_base: str, timeout_seconds: float) -> None:
        # auto_retry off: wechatpy retries a rejected token without limit; we retry once.
        super().__init__(appid, secret, timeout=timeout_seconds, auto_retry=False)
        base = api_base.rstrip("/")
        self.API_BASE_URL = f"{base}/cgi-bin/"
        # The wxa API carries its own base, which wins over the client's.
        self.wxa.API_BASE_URL = f"{base}/"
        self.token_url = f"{base}/cgi-bin/token"
        self._token_lock = threading.Lock()

    def fetch_access_token(self) -> dict[str, Any]:
        # wechatpy's version is hard-wired to api.weixin.qq.com and sends no timeout.
        response = self._http.get(
            self.token_url,
            params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
            timeout=self.timeout,
        )
        response.raise_for_status()
        result = self._handle_result(response)
        token = result.get("access_token") if isinstance(result, dict) else None
        if not isinstance(token, str) or not token:
            raise _MalformedReply("the token endpoint returned no access_token")
        expires_in = result.get("expires_in")
        if not isinstance(expires_in, int) or expires_in <= 0:
            expires_in = DEFAULT_TOKEN_TTL_SECONDS
        self.session.set(self.access_token_key, token, expires_in)
        self.expires_at = int(time.time()) + expires_in
        return result

    @property
    def access_token(self) -> str:
        # One thread fetches while the others wait: every fetch mints a new token and
        # retires the previous one, so a stampede would invalidate tokens in flight.
        with self._token_lock:
            return super().access_token

    def replace_rejected_token(self, rejected: str) -> None:
        with self._token_lock:
            if self.session.get(self.access_token_key) == rejected:
                self.fetch_access_token()


def _png_from(response: Any) -> bytes:
    if not isinstance(response, requests.Response):
        raise _MalformedReply(f"expected an image, got {type(response).__name__}")
    try:
        image = Image.open(io.BytesIO(response.content))
        image.load()
    except (UnidentifiedImageError, OSError) as exc:
        raise _MalformedReply("the mini-program code is not an image") from exc
    if image.format == "PNG":
        return response.content
    converted = io.BytesIO()
    image.save(converted, format="PNG")
    return converted.getvalue()


class WeChatPyGateway:
    """The production WeChatGateway: wechatpy pointed at `api_base`."""

    def __init__(self, *, appid: str, secret: str, api_base: str, timeout_seconds: float) -> None:
        self.api_base = api_base.rstrip("/")
        self._client = _PointedWeChatClient(
            appid=appid, secret=secret, api_base=self.api_base, timeout_seconds=timeout_seconds
        )

    async def code_to_session(self, code: str) -> WeChatSession:
        """jscode2session: the user behind a wx.login() code."""
        result = await self._call(
            "code2session", lambda: self._client.wxa.code_to_session(code), LOGIN_REFUSALS
        )
        reply = result if isinstance(result, dict) else {}
        openid, session_key, unionid = (
            reply.get("openid"),
            reply.get("session_key"),
            reply.get("unionid"),
        )
        if not (isinstance(openid, str) and openid and isinstance(session_key, str)):
            log.warning("WeChat code2session answered without an openid: %r", type(result))
            raise _unavailable()
        return WeChatSession(
            openid=openid,
            unionid=unionid if isinstance(unionid, str) and unionid else None,
            session_key=session_key,
        )

    async def wxacode_unlimited(self, *, scene: str, page: str, width: int) -> bytes:
        """getwxacodeunlimit: a mini-program code PNG opening `page` with `scene`."""

        def fetch() -> bytes:
            response = self._client.wxa.get_wxa_code_unlimited(
                scene, width=width, page=page or None
            )
            return _png_from(response)

        return await self._call("getwxacodeunlimit", fetch, WXACODE_REFUSALS)

    async def generate_url_link(self, *, path: str, query: str, valid_days: int) -> str:
        """generate_urllink: a URL Link opening `path?query` for `valid_days` days."""

        def generate() -> str:
            # wechatpy 1.8 has no call for it; the wxa API's own _post keeps its base URL and
            # the client's token handling.
            result = self._client.wxa._post(
                "wxa/generate_urllink",
                data={
                    "path": path,
                    "query": query,
                    "expire_type": 1,
                    "expire_interval": valid_days,
                },
            )
            url = result.get("url_link") if isinstance(result, dict) else None
            if not isinstance(url, str) or not url.startswith("https://"):
                raise _MalformedReply("generate_urllink answered without a url_link")
            return url

        return await self._call("generate_urllink", generate, URL_LINK_REFUSALS)

    async def send_subscribe_message(
        self, *, openid: str, template_id: str, data: dict[str, dict[str, str]], page: str
    ) -> None:
        """subscribeMessage.send: one message to one user who subscribed to the template."""

        def send() -> None:
            result = self._client.wxa.send_subscribe_message(
                openid, template_id, data, page=page or None
            )
            if not isinstance(result, dict):
                raise _MalformedReply("subscribe/send did not answer with JSON")

        await self._call("subscribe message", send, MESSAGE_REFUSALS)

    async def _call(
        self, what: str, operation: Callable[[], T], refusals: Mapping[int, _Refusal]
    ) -> T:
        try:
            return await asyncio.to_thread(self._with_fresh_token, operation)
        except WeChatClientException as exc:
            raise self._translate(what, exc, refusals) from exc
        except (requests.RequestException, ValueError, _MalformedReply) as exc:
            log.warning("WeChat %s failed: %s", what, exc)
            raise _unavailable() from exc

    def _with_fresh_token(self, operation: Callable[[], T]) -> T:
        token = self._client.access_token
        try:
            return operation()
        except WeChatClientException as exc:
            if exc.errcode not in TOKEN_REJECTED_ERRCODES:
                raise
            log.info("WeChat rejected the access token (errcode %s): fetching anew", exc.errcode)
        self._client.replace_rejected_token(token)
        return operation()

    @staticmethod
    def _translate(
        what: str, exc: WeChatClientException, refusals: Mapping[int, _Refusal]
    ) -> FenxiaoError:
        refusal = refusals.get(exc.errcode) if isinstance(exc.errcode, int) else None
        if refusal is not None:
            return refusal.build()
        if exc.errcode in MISCONFIGURATION_ERRCODES:
            log.error("WeChat refused our app set-up on %s: %s %s", what, exc.errcode, exc.errmsg)
        else:
            status = exc.response.status_code if exc.response is not None else None
            log.warning(
                "WeChat %s failed: errcode=%s errmsg=%s http=%s",
                what,
                exc.errcode,
                exc.errmsg,
                status,
            )
        return _unavailable()


def wechat_api_base(settings: Settings) -> str:
    """Where WeChat is: the configured base, else the loopback stand-in `make run` starts."""
    return settings.wechat_api_base or f"http://127.0.0.1:{settings.wechat_standin_port}"


def build_gateway(settings: Settings, *, api_base: str | None = None) -> WeChatGateway:
    """The gateway the app uses, talking to `api_base` (default: `wechat_api_base`)."""
    return WeChatPyGateway(
        appid=settings.wechat_appid,
        secret=settings.wechat_secret,
        api_base=api_base or wechat_api_base(settings),
        timeout_seconds=settings.wechat_timeout_seconds,
    )
