"""WeChat fixtures and helpers (a pytest plugin, loaded from tests/conftest.py).

- `wechat_standin`: the stand-in server, one per run, on a free loopback port.
- `standin`: the same server for one test; its faults, messages and used codes are
  forgotten after the test. Inject faults through this one.
- `wechat_settings`: the test `settings` pointed at the stand-in.
- `wechat_gateway`: the real wechatpy gateway built from `wechat_settings`.
- `mp_app` / `mp_api` (tests/api only): the API tests' `app` / `api`, whose WeChat is the
  stand-in, plus the per-test stand-in reset; API tests that log promoters in use `mp_api`.
- `promoter_login(api, "alice")` / `promoter_token(api, "alice")`: log in through
  POST /mp/v1/auth/login; the same identity always becomes the same user.
- `pay_settings`: `wechat_settings` whose WeChat Pay (API v3) is the stand-in's, with its
  merchant keys; `standin_pay_settings(settings, standin, version="v2")` for other set-ups.
  `build_payment_provider(pay_settings)` then pays through the stand-in over HTTP.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from sanic import Sanic

from server.config import Settings
from server.integrations.wechat import WeChatGateway
from server.integrations.wechat_client import build_gateway
from server.integrations.wechat_standin import NONCE_SEPARATOR, WeChatStandIn, openid_for

if TYPE_CHECKING:
    from tests.api.conftest import Api

# Generous for a loopback server, yet keeps the timeout tests short.
TEST_WECHAT_TIMEOUT_SECONDS = 2


def login_code(identity: str) -> str:
    """A fresh single-use wx.login() code for `identity` (every call gives a new code)."""
    return f"{identity}{NONCE_SEPARATOR}{secrets.token_hex(4)}"


def expected_openid(identity: str, settings: Settings) -> str:
    """The openid the stand-in hands out for `identity` under `settings`' appid."""
    return openid_for(identity, appid=settings.wechat_appid)


async def promoter_login(api: Api, identity: str = "user-x", **profile: Any) -> dict[str, Any]:
    """Log `identity` in through the mini-program API; the response body (tokens, user)."""
    response = await api.post("/mp/v1/auth/login", json={"code": login_code(identity), **profile})
    assert response.status == 200, response.text
    return response.json


async def promoter_token(api: Api, code: str = "user-x") -> str:
    """An access token for the WeChat user `code` stands for (a nonce is added per call)."""
    return (await promoter_login(api, code))["access_token"]


@pytest.fixture(scope="session")
def wechat_standin() -> Iterator[WeChatStandIn]:
    # Accepts the app credentials the test `settings` carry (the Settings defaults).
    defaults = Settings(environment="test")
    standin = WeChatStandIn(port=0, appid=defaults.wechat_appid, secret=defaults.wechat_secret)
    standin.start()
    try:
        yield standin
    finally:
        standin.stop()


@pytest.fixture
def standin(wechat_standin: WeChatStandIn) -> Iterator[WeChatStandIn]:
    try:
        yield wechat_standin
    finally:
        wechat_standin.reset()


@pytest.fixture
def wechat_settings(settings: Settings, standin: WeChatStandIn) -> Settings:
    return dataclasses.replace(
        settings,
        wechat_api_base=standin.base_url,
        wechat_timeout_seconds=TEST_WECHAT_TIMEOUT_SECONDS,
    )


def standin_pay_settings(
    settings: Settings,
    standin: WeChatStandIn,
    *,
    version: str = "v3",
    with_public_key: bool = True,
) -> Settings:
    """`settings` paying through `standin` with its merchant's keys; without the public key,
    the v3 client downloads the platform certificates instead."""
    keys = standin.pay.keys
    return dataclasses.replace(
        settings,
        wechat_pay_api_version=version,
        wechat_pay_api_base=standin.base_url,
        wechat_pay_timeout_seconds=TEST_WECHAT_TIMEOUT_SECONDS,
        wechat_pay_mchid=keys.mchid,
        wechat_pay_apiv3_key=keys.apiv3_key,
        wechat_pay_private_key=keys.merchant_private_key,
        wechat_pay_cert_serial_no=keys.merchant_cert_serial_no,
        wechat_pay_public_key=keys.platform_public_key if with_public_key else None,
        wechat_pay_public_key_id=keys.public_key_id if with_public_key else None,
        wechat_pay_v2_api_key=keys.v2_api_key,
    )


@pytest.fixture
def pay_settings(wechat_settings: Settings, standin: WeChatStandIn) -> Settings:
    return standin_pay_settings(wechat_settings, standin)


@pytest.fixture
def wechat_gateway(wechat_settings: Settings) -> WeChatGateway:
    return build_gateway(wechat_settings)


@pytest.fixture
def mp_app(app: Sanic, standin: WeChatStandIn) -> Sanic:
    """The API tests' app (tests/api/conftest.py), whose WeChat is the stand-in."""
    return app


@pytest.fixture
def mp_api(api: Api, standin: WeChatStandIn) -> Api:
    """The API client, with the stand-in's faults and spent codes forgotten after the test."""
    return api
