from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sanic import Sanic

from server.app import create_app
from server.config import Settings
from server.services.staff import create_staff_user

STAFF_PASSWORD = "correct horse battery"


class Api:
    """A thin async HTTP client over Sanic's ASGI test client, with bearer-token helpers."""

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
    ) -> Any:
        all_headers = dict(headers or {})
        if token:
            all_headers["authorization"] = f"Bearer {token}"
        kwargs: dict[str, Any] = {"headers": all_headers}
        if json is not None:
            kwargs["json"] = json
        if content is not None:
            kwargs["content"] = content
        if params is not None:
            kwargs["params"] = params
        _, response = await self.app.asgi_client.request(method, path, **kwargs)
        return response

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


@pytest.fixture
async def app(db: str, settings: Settings, no_app_registry: None) -> AsyncIterator[Sanic]:
    application = create_app(settings=settings, manage_db=False)
    yield application


@pytest.fixture
def api(app: Sanic) -> Api:
    return Api(app)
