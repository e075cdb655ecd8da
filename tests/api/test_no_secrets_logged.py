"""No log line, of any logger at any level, carries a password, a token, an API-key secret, a
WeChat login code or the WeChat app secret, through logins that succeed and logins that fail."""

from __future__ import annotations

import logging
from urllib.parse import quote

import pytest

from server.config import Settings
from tests.api.conftest import STAFF_PASSWORD, Api
from tests.wechat_fixtures import login_code

WRONG_PASSWORD = "wrong-Password-4711"


def _everything_logged(caplog: pytest.LogCaptureFixture) -> str:
    lines = []
    for record in caplog.records:
        lines.append(record.getMessage())
        lines.append(repr(record.__dict__))
    return "\n".join(lines)


async def test_logins_and_signed_requests_leave_no_secret_in_any_log_line(
    api: Api, api_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    admin = await api.staff_token("admin", username="keeper")
    refused = await api.post(
        "/admin/v1/auth/login", json={"username": "keeper", "password": WRONG_PASSWORD}
    )
    accepted = await api.post(
        "/admin/v1/auth/login", json={"username": "keeper", "password": STAFF_PASSWORD}
    )
    code = login_code("secretive")
    wechat = await api.post("/mp/v1/auth/login", json={"code": code})
    program = await api.post(
        "/admin/v1/programs",
        token=admin,
        json={"name": "Quiet", "currency": "CNY", "max_levels": 1, "level_rates": ["10"]},
    )
    key = await api.post(
        f"/admin/v1/programs/{program.json['id']}/api-keys", token=admin, json={"name": "store"}
    )
    assert (refused.status, accepted.status, wechat.status, key.status) == (401, 200, 200, 201)

    logged = _everything_logged(caplog)
    secrets_seen = {
        "staff password": STAFF_PASSWORD,
        "wrong password": WRONG_PASSWORD,
        "access token": accepted.json["access_token"],
        "refresh token": accepted.json["refresh_token"],
        "mini-program token": wechat.json["access_token"],
        "WeChat login code": code,
        "WeChat login code, URL-encoded": quote(code, safe=""),
        "API-key secret": key.json["secret"],
        "WeChat app secret": api_settings.wechat_secret,
        "JWT secret": api_settings.jwt_secret,
    }
    assert [name for name, value in secrets_seen.items() if value in logged] == []
