from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sanic import Sanic

from server.app import create_app
from server.config import Settings
from server.integrations.wechat_client import build_gateway
from server.integrations.wechat_standin import WeChatStandIn
from server.services.access.api_keys import create_api_key
from server.services.access.staff import create_staff_user
from server.services.sharing.landing import WeChatPause
from tests.order_builders import ADMIN, bind, chain, customer, shop

STAFF_PASSWORD = "correct horse battery"


class ApiResponse:
    """What tests read of a response: status, parsed JSON, text, headers and raw bytes."""

    def __init__(self, response: httpx.Response) -> None:
        self.raw = response
        self.status = response.status_code
        self.headers = response.headers
        self.body = response.content
        self.content = response.content
        self.text = response.text
        self.content_type = response.headers.get("content-type", "")

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class Api:
    """Async HTTP client over the app's ASGI interface, with bearer-token helpers.

    The app is started once per run (Sanic's ASGI test client restarts it on every request,
    ~0.5 s each); requests then go straight through ASGI.
    """

    def __init__(self, app: Sanic) -> None:
        self.app = app

    async def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json: Any = None,
        content: bytes | str | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
    ) -> ApiResponse:
        all_headers = dict(headers or {})
        if token:
            all_headers["authorization"] = f"Bearer {token}"
        transport = httpx.ASGITransport(app=self.app, client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            response = await client.request(
                method, path, headers=all_headers, json=json, content=content, params=params
            )
        return ApiResponse(response)

    async def get(self, path: str, **kw: Any) -> Any:
        return await self.request("GET", path, **kw)

    async def post(self, path: str, **kw: Any) -> Any:
        return await self.request("POST", path, **kw)

    async def patch(self, path: str, **kw: Any) -> Any:
        return await self.request("PATCH", path, **kw)

    async def put(self, path: str, **kw: Any) -> Any:
        return await self.request("PUT", path, **kw)

    async def delete(self, path: str, **kw: Any) -> Any:
        return await self.request("DELETE", path, **kw)

    async def staff_token(self, *roles: str, username: str | None = None) -> str:
        """Create a staff account with `roles` and return its access token."""
        username = username or "u_" + "_".join(roles) + f"_{id(roles) % 100000}"
        await create_staff_user(
            username=username, password=STAFF_PASSWORD, roles=list(roles), actor=None
        )
        response = await self.post(
            "/admin/v1/auth/login", json={"username": username, "password": STAFF_PASSWORD}
        )
        assert response.status == 200, response.text
        return response.json["access_token"]


# Generous for a loopback server, yet keeps the WeChat timeout tests short.
TEST_WECHAT_TIMEOUT_SECONDS = 2


@pytest.fixture(scope="session")
async def started_app(database_url: str, wechat_standin: WeChatStandIn) -> AsyncIterator[Sanic]:
    """One app for the whole run, started once (listeners, OpenAPI spec)."""
    Sanic._app_registry.clear()
    settings = Settings(
        environment="test",
        database_url=database_url,
        wechat_api_base=wechat_standin.base_url,
    )
    application = create_app(settings=settings, manage_db=False)
    application.asgi = True
    await application._startup()
    await application._server_event("init", "before")
    await application._server_event("init", "after")
    try:
        yield application
    finally:
        await application._server_event("shutdown", "before")
        await application._server_event("shutdown", "after")
        Sanic._app_registry.clear()


@pytest.fixture
def api_settings(settings: Settings, wechat_standin: WeChatStandIn) -> Settings:
    """This test's settings, with WeChat pointed at the run's stand-in."""
    return dataclasses.replace(
        settings,
        wechat_api_base=wechat_standin.base_url,
        wechat_timeout_seconds=TEST_WECHAT_TIMEOUT_SECONDS,
    )


@pytest.fixture
async def app(db: str, started_app: Sanic, api_settings: Settings) -> AsyncIterator[Sanic]:
    """The started app with this test's settings; whatever a test swaps on ctx is restored."""
    saved = (started_app.ctx.settings, started_app.ctx.wechat)
    started_app.ctx.settings = api_settings
    started_app.ctx.wechat = build_gateway(api_settings)
    # A WeChat failure one test provokes must not keep the next test's landings from asking.
    started_app.ctx.wechat_pause = WeChatPause()
    try:
        yield started_app
    finally:
        started_app.ctx.settings, started_app.ctx.wechat = saved


@pytest.fixture
def api(app: Sanic) -> Api:
    return Api(app)


@pytest.fixture
async def store(api: Api) -> dict[str, Any]:
    """A program with a customer bound to the nearest of a 2-level chain, and the store's
    S2S signing key (for the order event tests)."""
    program = await shop()
    top, nearest = await chain(program, 2)
    buyer = await customer()
    await bind(program, nearest, user=buyer)
    issued = await create_api_key(
        program_id=program.id, name="store", actor=ADMIN, settings=api.app.ctx.settings
    )
    return {
        "program": program,
        "top": top,
        "nearest": nearest,
        "buyer": buyer,
        "key_id": issued.api_key.key_id,
        "secret": issued.secret,
    }
