"""Scenes for browser tests, set up through the real server's own APIs."""

from __future__ import annotations

import secrets
from typing import Any

import httpx

from tests.e2e.stack_client import ok


def program(admin: httpx.Client, name: str, **settings: Any) -> dict[str, Any]:
    body = {
        "name": name,
        "currency": "CNY",
        "recruitment_mode": "review",
        "max_levels": 2,
        "level_rates": ["10", "5"],
        **settings,
    }
    return ok(admin.post("/admin/v1/programs", json=body), 201)


def application(
    admin: httpx.Client, program_id: int, real_name: str, invite_code: str | None = None
) -> dict[str, Any]:
    """A WeChat user (through the stand-in) applying to the program: the promoter it creates."""
    identity = f"browser-{secrets.token_hex(4)}"
    login = ok(admin.post("/mp/v1/auth/login", json={"code": f"{identity}#1"}, headers={}))
    body: dict[str, Any] = {"real_name": real_name, "phone": "13800138000"}
    if invite_code:
        body["invite_code"] = invite_code
    created = ok(
        admin.post(
            f"/mp/v1/programs/{program_id}/applications",
            json=body,
            headers={"authorization": f"Bearer {login['access_token']}"},
        ),
        201,
    )
    return created["promoter"]


def staff(admin: httpx.Client, username: str, *roles: str, password: str) -> dict[str, Any]:
    body = {"username": username, "password": password, "roles": list(roles)}
    return ok(admin.post("/admin/v1/staff", json=body), 201)
