"""What the WeChat stand-in answers: WeChat's protocol for the calls fenxiao makes, with
the state real WeChat keeps (access tokens, spent login codes, delivered messages).
The HTTP server, fault injection and control paths are in `wechat_standin.py`."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import qrcode
from PIL import Image

DEFAULT_APPID = "wx-standin-appid"
DEFAULT_SECRET = "standin-secret"
# Codes may carry a "#nonce" suffix: every code is single-use, yet "alice#1" and "alice#2"
# log the same person in, as two wx.login() calls by one user would.
NONCE_SEPARATOR = "#"
MAX_SCENE_LENGTH = 32
SCENE_PATTERN = re.compile(r"[0-9A-Za-z!#$&'()*+,/:;=?@\-._~]+")
DEFAULT_WIDTH, MIN_WIDTH, MAX_WIDTH = 430, 280, 1280
# generate_urllink: a published page path (no leading '/', no query), a query of at most
# 1024 of these characters, and a life of at most 30 days.
URL_LINK_PAGE_PATTERN = re.compile(r"[A-Za-z0-9_-]+(?:/[A-Za-z0-9_-]+)*")
URL_LINK_QUERY_PATTERN = re.compile(r"[0-9A-Za-z!#$&'()*+,/:;=?@\-._~%]*")
MAX_URL_LINK_QUERY_LENGTH = 1024
MAX_URL_LINK_DAYS = 30
URL_LINK_BASE = "https://wxaurl.cn/"


def identity_of(code: str) -> str:
    """The person a stand-in login code stands for (the code without its nonce)."""
    return code.split(NONCE_SEPARATOR, 1)[0]


def openid_for(code: str, *, appid: str = DEFAULT_APPID) -> str:
    """The openid the stand-in returns for `code`: stable per identity and appid."""
    digest = hashlib.sha256(f"{appid}:{identity_of(code)}".encode()).digest()
    return "o" + base64.urlsafe_b64encode(digest).decode()[:27]


def unionid_for(code: str) -> str:
    """The unionid the stand-in returns for `code` (shared by every appid, as in WeChat)."""
    digest = hashlib.sha256(f"union:{identity_of(code)}".encode()).digest()
    return "u" + base64.urlsafe_b64encode(digest).decode()[:27]


@dataclass(frozen=True)
class SentMessage:
    """A subscribe message as WeChat received it."""

    msgid: int
    touser: str
    template_id: str
    page: str | None
    data: dict[str, dict[str, str]]


@dataclass(frozen=True)
class IssuedUrlLink:
    """A URL Link as WeChat generated it."""

    url_link: str
    path: str
    query: str
    expire_time: int


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    content_type: str = "application/json; charset=utf-8"


def json_reply(payload: dict[str, Any], status: int = 200) -> Reply:
    return Reply(status, json.dumps(payload, ensure_ascii=False).encode())


def error_reply(errcode: int, errmsg: str) -> Reply:
    # WeChat reports API errors with HTTP 200 and an errcode in the JSON body.
    return json_reply({"errcode": errcode, "errmsg": errmsg})


def _render_code_png(scene: str, width: int) -> bytes:
    image = qrcode.make(scene, border=2).get_image().convert("L")
    image = image.resize((width, width), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _json_object(body: bytes) -> dict[str, Any] | None:
    """The request body as a JSON object, or None for anything else."""
    try:
        request = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return request if isinstance(request, dict) else None


def _url_link_expiry(request: dict[str, Any]) -> int | None:
    """The Unix time a URL Link request asks to expire at, if WeChat would accept it."""
    now = int(time.time())
    longest = now + MAX_URL_LINK_DAYS * 86400
    if request.get("expire_type", 0) == 1:
        days = request.get("expire_interval")
        valid = isinstance(days, int) and 1 <= days <= MAX_URL_LINK_DAYS
        return now + days * 86400 if valid else None
    expire_time = request.get("expire_time")
    if not isinstance(expire_time, int) or isinstance(expire_time, bool):
        return None
    return expire_time if now + 60 <= expire_time <= longest else None


def _valid_message_data(data: Any) -> bool:
    return (
        isinstance(data, dict)
        and bool(data)
        and all(
            isinstance(key, str) and isinstance(item, dict) and isinstance(item.get("value"), str)
            for key, item in data.items()
        )
    )


class WeChatProtocol:
    """The stand-in's WeChat: one app (appid + secret) and the users who log in to it."""

    def __init__(self, *, appid: str, secret: str, token_ttl_seconds: int) -> None:
        self.appid = appid
        self.secret = secret
        self.token_ttl_seconds = token_ttl_seconds
        self._lock = threading.Lock()
        self._tokens: dict[str, float] = {}
        self._used_codes: set[str] = set()
        self._refusing_openids: set[str] = set()
        self._messages: list[SentMessage] = []
        self._url_links: list[IssuedUrlLink] = []

    def route(self, method: str, path: str) -> Callable[[dict[str, str], bytes], Reply] | None:
        """The handler WeChat has for `method path`, if any."""
        routes: dict[tuple[str, str], Callable[[dict[str, str], bytes], Reply]] = {
            ("GET", "/cgi-bin/token"): self.token,
            ("GET", "/sns/jscode2session"): self.jscode2session,
            ("POST", "/wxa/getwxacodeunlimit"): self.wxacode_unlimited,
            ("POST", "/wxa/generate_urllink"): self.generate_urllink,
            ("POST", "/cgi-bin/message/subscribe/send"): self.subscribe_send,
        }
        return routes.get((method, path))

    @property
    def sent_messages(self) -> list[SentMessage]:
        with self._lock:
            return list(self._messages)

    @property
    def url_links(self) -> list[IssuedUrlLink]:
        with self._lock:
            return list(self._url_links)

    def expire_tokens(self) -> None:
        with self._lock:
            expired = time.monotonic() - 1
            self._tokens = dict.fromkeys(self._tokens, expired)

    def refuse_messages_for(self, openid: str) -> None:
        with self._lock:
            self._refusing_openids.add(openid)

    def forget(self) -> None:
        """Forget messages, spent codes and refusals; issued tokens stay valid."""
        with self._lock:
            self._messages.clear()
            self._url_links.clear()
            self._used_codes.clear()
            self._refusing_openids.clear()

    def _check_app(self, params: dict[str, str]) -> Reply | None:
        if params.get("appid") != self.appid:
            return error_reply(40013, "invalid appid")
        if params.get("secret") != self.secret:
            return error_reply(40125, "invalid appsecret")
        return None

    def _check_token(self, params: dict[str, str]) -> Reply | None:
        token = params.get("access_token")
        if not token:
            return error_reply(41001, "access_token missing")
        with self._lock:
            expires_at = self._tokens.get(token)
        if expires_at is None:
            return error_reply(40001, "invalid credential, access_token is invalid or not latest")
        if expires_at <= time.monotonic():
            return error_reply(42001, "access_token expired")
        return None

    def _authorized_json(
        self, params: dict[str, str], body: bytes, *, malformed: Reply
    ) -> dict[str, Any] | Reply:
        """The JSON object a token-bearing call sent, or the refusal to answer with."""
        refused = self._check_token(params)
        if refused is not None:
            return refused
        request = _json_object(body)
        return malformed if request is None else request

    def token(self, params: dict[str, str], body: bytes) -> Reply:
        if params.get("grant_type") != "client_credential":
            return error_reply(40002, "invalid grant_type")
        refused = self._check_app(params)
        if refused is not None:
            return refused
        token = secrets.token_urlsafe(48)
        with self._lock:
            self._tokens[token] = time.monotonic() + self.token_ttl_seconds
        return json_reply({"access_token": token, "expires_in": self.token_ttl_seconds})

    def jscode2session(self, params: dict[str, str], body: bytes) -> Reply:
        # Like WeChat, code2session authenticates with appid+secret; an access_token
        # parameter (wechatpy always sends one) is ignored.
        refused = self._check_app(params)
        if refused is not None:
            return refused
        if params.get("grant_type") != "authorization_code":
            return error_reply(40002, "invalid grant_type")
        code = params.get("js_code", "")
        if not code:
            return error_reply(41008, "missing code")
        if code.startswith("invalid"):
            return error_reply(40029, "invalid code")
        with self._lock:
            if code in self._used_codes:
                return error_reply(40163, "code been used")
            self._used_codes.add(code)
        return json_reply(
            {
                "openid": openid_for(code, appid=self.appid),
                "session_key": base64.b64encode(secrets.token_bytes(16)).decode(),
                "unionid": unionid_for(code),
            }
        )

    def wxacode_unlimited(self, params: dict[str, str], body: bytes) -> Reply:
        request = self._authorized_json(
            params,
            body,
            malformed=error_reply(
                40169, "invalid length for scene, or the data is not json string"
            ),
        )
        if isinstance(request, Reply):
            return request
        scene = request.get("scene")
        if not isinstance(scene, str) or not scene or len(scene) > MAX_SCENE_LENGTH:
            return error_reply(40169, "invalid length for scene, or the data is not json string")
        if not SCENE_PATTERN.fullmatch(scene):
            return error_reply(40129, "invalid scene")
        page = request.get("page")
        if page is not None and (not isinstance(page, str) or page.startswith("/")):
            return error_reply(41030, "invalid page")
        width = request.get("width", DEFAULT_WIDTH)
        if not isinstance(width, int) or isinstance(width, bool):
            return error_reply(40097, "invalid args: width")
        # WeChat clamps the width rather than refusing it.
        width = min(max(width, MIN_WIDTH), MAX_WIDTH)
        return Reply(200, _render_code_png(scene, width), "image/png")

    def generate_urllink(self, params: dict[str, str], body: bytes) -> Reply:
        request = self._authorized_json(
            params, body, malformed=error_reply(47001, "data format error")
        )
        if isinstance(request, Reply):
            return request
        path = request.get("path") or ""
        query = request.get("query") or ""
        if not isinstance(path, str) or (path and not URL_LINK_PAGE_PATTERN.fullmatch(path)):
            return error_reply(40165, "invalid weapp pagepath")
        if (
            not isinstance(query, str)
            or len(query) > MAX_URL_LINK_QUERY_LENGTH
            or not URL_LINK_QUERY_PATTERN.fullmatch(query)
        ):
            return error_reply(40212, "invalid query")
        expire_time = _url_link_expiry(request)
        if expire_time is None:
            return error_reply(85401, "time limit between 1min and 30days")
        issued = IssuedUrlLink(
            url_link=URL_LINK_BASE + secrets.token_urlsafe(9),
            path=path,
            query=query,
            expire_time=expire_time,
        )
        with self._lock:
            self._url_links.append(issued)
        return json_reply({"errcode": 0, "errmsg": "ok", "url_link": issued.url_link})

    def subscribe_send(self, params: dict[str, str], body: bytes) -> Reply:
        request = self._authorized_json(
            params, body, malformed=error_reply(47001, "data format error")
        )
        if isinstance(request, Reply):
            return request
        touser = request.get("touser")
        template_id = request.get("template_id")
        page = request.get("page")
        data = request.get("data")
        if not isinstance(touser, str) or not touser:
            return error_reply(40003, "invalid openid")
        if not isinstance(template_id, str) or not template_id:
            return error_reply(40037, "invalid template_id")
        if not _valid_message_data(data):
            return error_reply(47003, "argument invalid! data.value invalid")
        with self._lock:
            if touser in self._refusing_openids:
                return error_reply(43101, "user refuse to accept the msg")
            message = SentMessage(
                msgid=len(self._messages) + 1,
                touser=touser,
                template_id=template_id,
                page=page if isinstance(page, str) else None,
                data=data,
            )
            self._messages.append(message)
        return json_reply({"errcode": 0, "errmsg": "ok", "msgid": message.msgid})
