"""Scenes for browser tests, set up through the real server's own APIs."""

from __future__ import annotations

import secrets
from typing import Any

import httpx

from server import clock
from server.integrations.wechat_standin_protocol import openid_for, unionid_for
from tests.e2e.stack_client import ok
from tests.order_builders import line, paid
from tests.s2s_client import encode_json, sign_request

EVENTS = "/admin/v1/s2s/events"
TRANSFER_PATH = "/v3/fund-app/mch-transfer/transfer-bills"


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
    """A WeChat user (through the stand-in) applying to the program: the promoter it creates,
    with the user's `openid`."""
    code = f"browser-{secrets.token_hex(4)}#1"
    login = ok(admin.post("/mp/v1/auth/login", json={"code": code}, headers={}))
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
    return {
        **created["promoter"],
        "program_id": program_id,
        "openid": openid_for(code),
        "unionid": unionid_for(code),
        "token": login["access_token"],
    }


def team_of_two(
    admin: httpx.Client, shop_name: str, upline_name: str, applicant_name: str
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A review-mode program, an approved upline and an application under their invite code."""
    shop = program(admin, shop_name)
    upline = application(admin, shop["id"], upline_name)
    invite = approve(admin, upline["id"])["invite_code"]
    return shop, upline, application(admin, shop["id"], applicant_name, invite_code=invite)


def approve(admin: httpx.Client, promoter_id: int) -> dict[str, Any]:
    return ok(admin.post(f"/admin/v1/promoters/{promoter_id}/approve", json={}))


def store_key(admin: httpx.Client, program_id: int) -> tuple[str, str]:
    path = f"/admin/v1/programs/{program_id}/api-keys"
    key = ok(admin.post(path, json={"name": "store"}), 201)
    return key["key_id"], key["secret"]


def paid_order(
    admin: httpx.Client,
    key: tuple[str, str],
    external_id: str,
    buyer_openid: str,
    amount: str,
    **buyer: str,
) -> None:
    """The store reports a paid one-line order, signed with its key."""
    event = paid(external_id, line(amount=amount), placed_at=clock.now())
    event["order"]["buyer"] = {"openid": buyer_openid, **buyer}
    raw = encode_json(event)
    headers = sign_request(key_id=key[0], secret=key[1], method="POST", path=EVENTS, body=raw)
    response = admin.post(
        EVENTS, content=raw, headers={**headers, "content-type": "application/json"}
    )
    assert response.status_code == 200, response.text


def staff(admin: httpx.Client, username: str, *roles: str, password: str) -> dict[str, Any]:
    body = {"username": username, "password": password, "roles": list(roles)}
    return ok(admin.post("/admin/v1/staff", json=body), 201)


def credit(admin: httpx.Client, program_id: int, promoter_id: int, amount: str) -> None:
    """A bonus adjustment: money in the promoter's available balance."""
    body = {
        "promoter_id": promoter_id,
        "amount": amount,
        "currency": "CNY",
        "reason_code": "bonus",
        "idempotency_key": f"browser-{secrets.token_hex(6)}",
    }
    ok(admin.post(f"/admin/v1/programs/{program_id}/adjustments", json=body), 201)


def withdrawal(admin: httpx.Client, promoter: dict[str, Any], amount: str) -> dict[str, Any]:
    """The promoter asks, in the mini-program, to withdraw to WeChat."""
    body = {
        "amount": amount,
        "method": "wechat",
        "idempotency_key": f"browser-{secrets.token_hex(6)}",
    }
    return ok(
        admin.post(
            f"/mp/v1/programs/{promoter['program_id']}/withdrawals",
            json=body,
            headers={"authorization": f"Bearer {promoter['token']}"},
        ),
        201,
    )


def fail_next_transfer(standin_url: str) -> None:
    """WeChat Pay refuses the next transfer (the merchant account lacks funds)."""
    fault = {"kind": "not_enough", "path": TRANSFER_PATH}
    assert httpx.post(f"{standin_url}/__standin__/faults", json=fault).status_code == 200
