"""A browser-like client for console tests: keeps cookies, reads the CSRF token from pages."""

from __future__ import annotations

import re
from typing import Any

import httpx
from sanic import Sanic

from server.services.access.staff import create_staff_user
from tests.api.conftest import STAFF_PASSWORD

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Console:
    def __init__(self, app: Sanic) -> None:
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40001))
        self.http = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        self.csrf = ""

    async def get(self, path: str, **kw: Any) -> httpx.Response:
        response = await self.http.get(path, **kw)
        found = _CSRF.search(response.text)
        if found:
            self.csrf = found.group(1)
        return response

    async def post(
        self, path: str, data: dict[str, Any] | None = None, *, csrf: bool = True, **kw: Any
    ) -> httpx.Response:
        form = dict(data or {})
        if csrf:
            form.setdefault("csrf_token", self.csrf)
        return await self.http.post(path, data=form, **kw)

    async def sign_in(self, username: str, password: str = STAFF_PASSWORD) -> httpx.Response:
        await self.get("/console/login")
        response = await self.post("/console/login", {"username": username, "password": password})
        if response.status_code == 303:
            await self.get(response.headers["location"])
        return response

    async def close(self) -> None:
        await self.http.aclose()


async def signed_in(app: Sanic, *roles: str, username: str) -> Console:
    """A console signed in as a new staff account holding `roles`."""
    await create_staff_user(
        username=username, password=STAFF_PASSWORD, roles=list(roles), actor=None
    )
    console = Console(app)
    response = await console.sign_in(username)
    assert response.status_code == 303, response.text
    return console
