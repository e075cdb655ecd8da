"""Walks every route of both surfaces with no token and with each role, checking the matrix
each route declares (`@requires(...)` / `@public`)."""

from __future__ import annotations

import re
from typing import Any

from sanic import Sanic

from server.auth import ALL_ROLES, STAFF_ROLES, Principal, encode_token, roles_of
from server.s2s_auth import is_s2s
from tests.api.conftest import Api
from tests.api.console.client import Console, signed_in
from tests.conftest import TEST_JWT_SECRET
from tests.order_builders import shop

# /s/: the public HTML landing of share links, walked so it must declare itself public.
SURFACE_PREFIXES = ("/mp/v1/", "/admin/v1/", "/s/")
_PARAM = re.compile(r"<([^:>]+)(?::([^>]+))?>")


def _concrete(path: str) -> str:
    def fill(match: re.Match[str]) -> str:
        kind = match.group(2) or "str"
        return "999999" if kind in {"int", "number"} else "zzz-missing"

    return "/" + _PARAM.sub(fill, path).lstrip("/")


def surface_routes(app: Sanic) -> list[tuple[str, str, Any]]:
    routes = []
    for route in app.router.routes:
        path = "/" + route.path.lstrip("/")
        if not path.startswith(SURFACE_PREFIXES):
            continue
        for method in sorted(route.methods):
            if method in {"HEAD", "OPTIONS"}:
                continue
            routes.append((method, path, route.handler))
    return sorted(routes, key=lambda r: (r[1], r[0]))


async def _token(api: Api, role: str) -> str:
    if role != "promoter":
        # A staff token is honoured only for an account that exists and holds the role now.
        return await api.staff_token(role, username=f"matrix_{role}")
    principal = Principal(kind="user", id=999999, roles=frozenset({role}))
    return encode_token(
        principal, secret=TEST_JWT_SECRET, token_type="access", ttl_seconds=300
    ).token


def test_every_route_declares_its_roles(started_app: Sanic) -> None:
    undeclared = [
        f"{method} {path}"
        for method, path, handler in surface_routes(started_app)
        if roles_of(handler) is None
    ]
    assert undeclared == []


def test_admin_routes_admit_no_promoter_and_mp_routes_admit_no_staff(started_app: Sanic) -> None:
    wrong = []
    for method, path, handler in surface_routes(started_app):
        roles = set(roles_of(handler) or ())
        if path.startswith("/admin/") and "promoter" in roles:
            wrong.append(f"{method} {path}")
        if path.startswith("/mp/") and roles - {"promoter"}:
            wrong.append(f"{method} {path}")
    assert wrong == []


async def test_every_route_enforces_its_role_matrix(api: Api, started_app: Sanic) -> None:
    tokens = {role: await _token(api, role) for role in sorted(ALL_ROLES)}
    violations: list[str] = []
    checked = 0
    for method, path, handler in surface_routes(started_app):
        allowed = set(roles_of(handler) or ())
        url = _concrete(path)
        if is_s2s(handler):
            # Signed S2S: no token, nor any role's token, stands in for the signature.
            for role, token in {"anonymous": None, **tokens}.items():
                response = await api.request(method, url, token=token, json={})
                if response.status != 401 or response.json["error"]["code"] != "s2s_auth_required":
                    violations.append(f"S2S {method} {path} as {role} -> {response.status}")
            continue
        if not allowed:
            continue  # public: login, OpenAPI, public resolvers
        anonymous = await api.request(method, url, json={})
        if anonymous.status != 401:
            violations.append(f"{method} {path} without token -> {anonymous.status}")
        for role, token in tokens.items():
            response = await api.request(method, url, token=token, json={})
            body = response.json if "json" in response.content_type else None
            code = (body or {}).get("error", {}).get("code") if isinstance(body, dict) else None
            if role in allowed and (response.status == 401 or code == "role_forbidden"):
                violations.append(f"{method} {path} as {role} refused ({response.status})")
            if role not in allowed and (response.status != 403 or code != "role_forbidden"):
                violations.append(f"{method} {path} as {role} -> {response.status} {code}")
            if response.status >= 500:
                violations.append(f"{method} {path} as {role} -> {response.status}")
        checked += 1
    assert checked >= 10, "the walk found too few guarded routes"
    assert violations == []


def console_routes(app: Sanic) -> list[tuple[str, str, Any]]:
    routes = []
    for route in app.router.routes:
        path = "/" + route.path.lstrip("/")
        if not path.startswith("/console") or ".console_static." in route.name:
            continue
        routes.extend(
            (method, path, route.handler)
            for method in sorted(route.methods)
            if method not in {"HEAD", "OPTIONS"}
        )
    return sorted(routes, key=lambda r: (r[1], r[0]))


def test_every_console_route_declares_back_office_roles(started_app: Sanic) -> None:
    routes = console_routes(started_app)
    assert len(routes) >= 5
    wrong = [
        f"{method} {path}"
        for method, path, handler in routes
        if roles_of(handler) is None or "promoter" in set(roles_of(handler) or ())
    ]
    assert wrong == []


async def test_every_console_route_enforces_its_roles_and_csrf(app: Sanic) -> None:
    await shop()
    consoles = {
        role: await signed_in(app, role, username=f"console_walk_{role}")
        for role in sorted(STAFF_ROLES)
    }
    anonymous = Console(app)
    violations: list[str] = []
    checked = 0
    for method, path, handler in console_routes(app):
        allowed = set(roles_of(handler) or ())
        if not allowed:
            continue  # sign-in, the language switch
        url = _concrete(path)
        response = await anonymous.http.request(method, url)
        if response.status_code != 303 or not response.headers["location"].startswith(
            "/console/login"
        ):
            violations.append(f"{method} {path} without a session -> {response.status_code}")
        for role, console in consoles.items():
            if method == "GET":
                response = await console.http.get(url)
            else:
                response = await console.http.request(method, url, data={"csrf_token": "forged"})
                if response.status_code != 403:
                    violations.append(f"{method} {path} as {role} with a forged CSRF token")
                response = await console.post(url) if path != "/console/logout" else None
            if response is None:
                continue
            status = response.status_code
            if role in allowed and status in (401, 403):
                violations.append(f"{method} {path} as {role} refused ({status})")
            if role not in allowed and status != 403:
                violations.append(f"{method} {path} as {role} -> {status}")
            if status >= 500:
                violations.append(f"{method} {path} as {role} -> {status}")
        checked += 1
    for console in (anonymous, *consoles.values()):
        await console.close()
    assert checked >= 3
    assert violations == []
