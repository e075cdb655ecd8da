"""S2S over HTTP: admins manage a program's API keys; the store signs requests with them."""

from __future__ import annotations

from typing import Any

import pytest

from server import clock
from server.models import AuditLog
from tests.api.conftest import Api
from tests.s2s_client import encode_json, s2s_post, sign_request

PING = "/admin/v1/s2s/ping"
SHOP: dict[str, Any] = {
    "name": "Spring shop",
    "currency": "CNY",
    "max_levels": 2,
    "level_rates": ["10", "5"],
}


async def _program(api: Api, admin: str, name: str = "Spring shop") -> int:
    response = await api.post("/admin/v1/programs", token=admin, json={**SHOP, "name": name})
    assert response.status == 201, response.text
    return response.json["id"]


async def _key(api: Api, admin: str, program_id: int, name: str = "store") -> dict[str, Any]:
    response = await api.post(
        f"/admin/v1/programs/{program_id}/api-keys", token=admin, json={"name": name}
    )
    assert response.status == 201, response.text
    return response.json


@pytest.fixture
async def admin(api: Api) -> str:
    return await api.staff_token("admin", username="keys_admin")


@pytest.fixture
async def key(api: Api, admin: str) -> dict[str, Any]:
    return await _key(api, admin, await _program(api, admin))


def _error(response: Any) -> tuple[int, str]:
    return response.status, response.json["error"]["code"]


async def _ping(api: Api, key: dict[str, Any], **kw: Any) -> Any:
    return await s2s_post(api, PING, key_id=key["key_id"], secret=key["secret"], json_body={}, **kw)


async def test_an_admin_sees_a_new_keys_secret_once_and_never_again(api: Api, admin: str) -> None:
    program_id = await _program(api, admin)
    created = await _key(api, admin, program_id, name="crm")
    assert created["key_id"].startswith("fxk_") and created["secret"].startswith("fxs_")
    assert created["program_id"] == program_id
    assert (created["name"], created["status"]) == ("crm", "active")

    listed = await api.get(f"/admin/v1/programs/{program_id}/api-keys", token=admin)
    assert listed.status == 200
    assert [item["key_id"] for item in listed.json["items"]] == [created["key_id"]]
    revoked = await api.post(
        f"/admin/v1/programs/{program_id}/api-keys/{created['key_id']}/revoke", token=admin
    )
    assert revoked.json["status"] == "revoked"
    for response in (listed, revoked):
        assert created["secret"] not in response.text
    actions = await AuditLog.filter(program_id=program_id).values_list("action", flat=True)
    assert {"api_key.create", "api_key.revoke"} <= set(actions)


async def test_a_signed_ping_echoes_the_keys_program_and_key_id(
    api: Api, key: dict[str, Any]
) -> None:
    response = await _ping(api, key)
    assert response.status == 200, response.text
    assert response.json == {"ok": True, "program_id": key["program_id"], "key_id": key["key_id"]}


async def test_a_ping_with_no_body_and_a_signed_query_string_is_accepted(
    api: Api, key: dict[str, Any]
) -> None:
    path = f"{PING}?probe=1"
    headers = sign_request(
        key_id=key["key_id"], secret=key["secret"], method="POST", path=path, body=b""
    )
    assert (await api.post(path, headers=headers)).status == 200
    altered = sign_request(
        key_id=key["key_id"], secret=key["secret"], method="POST", path=path, body=b""
    )
    response = await api.post(f"{PING}?probe=2", headers=altered)
    assert _error(response) == (401, "s2s_signature_invalid")


async def test_a_request_without_signing_headers_needs_s2s_auth(api: Api, admin: str) -> None:
    response = await api.post(PING, json={})
    assert _error(response) == (401, "s2s_auth_required")
    assert set(response.json["error"]["fields"]) == {
        "X-Fenxiao-Key",
        "X-Fenxiao-Timestamp",
        "X-Fenxiao-Nonce",
        "X-Fenxiao-Signature",
    }
    with_jwt_only = await api.post(PING, token=admin, json={})
    assert _error(with_jwt_only) == (401, "s2s_auth_required")


async def test_an_unknown_key_is_invalid(api: Api, key: dict[str, Any]) -> None:
    response = await _ping(api, {**key, "key_id": "fxk_000000000000000000000000"})
    assert _error(response) == (401, "s2s_key_invalid")


async def test_a_revoked_key_is_invalid_at_once(api: Api, admin: str, key: dict[str, Any]) -> None:
    await api.post(
        f"/admin/v1/programs/{key['program_id']}/api-keys/{key['key_id']}/revoke", token=admin
    )
    assert _error(await _ping(api, key)) == (401, "s2s_key_invalid")


async def test_a_signature_made_with_another_secret_is_refused(
    api: Api, key: dict[str, Any]
) -> None:
    response = await _ping(api, {**key, "secret": key["secret"] + "x"})
    assert _error(response) == (401, "s2s_signature_invalid")


async def test_a_body_changed_after_signing_is_refused(api: Api, key: dict[str, Any]) -> None:
    signed_body = encode_json({"amount": "10.00"})
    headers = sign_request(
        key_id=key["key_id"], secret=key["secret"], method="POST", path=PING, body=signed_body
    )
    response = await api.post(PING, content=encode_json({"amount": "99.00"}), headers=headers)
    assert _error(response) == (401, "s2s_signature_invalid")


async def test_a_signature_for_another_path_is_refused(api: Api, key: dict[str, Any]) -> None:
    body = encode_json({})
    other = f"/admin/v1/programs/{key['program_id']}/s2s/ping"
    headers = sign_request(
        key_id=key["key_id"], secret=key["secret"], method="POST", path=other, body=body
    )
    response = await api.post(PING, content=body, headers=headers)
    assert _error(response) == (401, "s2s_signature_invalid")


@pytest.mark.parametrize("skew", [-301, 301])
async def test_a_stale_or_future_timestamp_is_out_of_the_window(
    api: Api, key: dict[str, Any], skew: int
) -> None:
    timestamp = int(clock.now().timestamp()) + skew
    response = await _ping(api, key, timestamp=timestamp)
    assert _error(response) == (401, "s2s_timestamp_out_of_window")
    assert response.json["error"]["fields"]["window_seconds"] == 300


async def test_a_replayed_request_is_refused_with_409(api: Api, key: dict[str, Any]) -> None:
    body = encode_json({})
    headers = sign_request(
        key_id=key["key_id"], secret=key["secret"], method="POST", path=PING, body=body
    )
    first = await api.post(PING, content=body, headers=headers)
    again = await api.post(PING, content=body, headers=headers)
    assert first.status == 200
    assert _error(again) == (409, "s2s_replayed")


async def test_a_malformed_nonce_is_refused_naming_the_header(
    api: Api, key: dict[str, Any]
) -> None:
    response = await _ping(api, key, nonce="short")
    assert _error(response) == (401, "s2s_header_invalid")
    assert set(response.json["error"]["fields"]) == {"X-Fenxiao-Nonce"}


async def test_a_program_scoped_route_refuses_a_key_of_another_program(
    api: Api, admin: str, key: dict[str, Any]
) -> None:
    other_program = await _program(api, admin, name="Other shop")
    own = f"/admin/v1/programs/{key['program_id']}/s2s/ping"
    foreign = f"/admin/v1/programs/{other_program}/s2s/ping"
    ok = await s2s_post(api, own, key_id=key["key_id"], secret=key["secret"], json_body={})
    assert ok.status == 200 and ok.json["program_id"] == key["program_id"]
    refused = await s2s_post(api, foreign, key_id=key["key_id"], secret=key["secret"], json_body={})
    assert _error(refused) == (403, "s2s_wrong_program")


async def test_after_rotation_both_keys_work_until_the_old_one_is_revoked(
    api: Api, admin: str, key: dict[str, Any]
) -> None:
    base = f"/admin/v1/programs/{key['program_id']}/api-keys"
    rotated = await api.post(f"{base}/{key['key_id']}/rotate", token=admin)
    assert rotated.status == 201, rotated.text
    new = rotated.json
    assert new["rotated_from"] == key["key_id"] and new["secret"] != key["secret"]
    assert (await _ping(api, key)).status == 200
    assert (await _ping(api, new)).status == 200
    await api.post(f"{base}/{key['key_id']}/revoke", token=admin)
    assert _error(await _ping(api, key)) == (401, "s2s_key_invalid")
    assert (await _ping(api, new)).status == 200
    active = await api.get(base, token=admin, params={"status": "active"})
    assert [item["key_id"] for item in active.json["items"]] == [new["key_id"]]


@pytest.mark.parametrize("role", ["staff", "finance"])
async def test_only_admins_manage_api_keys(api: Api, key: dict[str, Any], role: str) -> None:
    token = await api.staff_token(role, username=f"keys_{role}")
    base = f"/admin/v1/programs/{key['program_id']}/api-keys"
    attempts = [
        await api.get(base, token=token),
        await api.post(base, token=token, json={"name": "mine"}),
        await api.post(f"{base}/{key['key_id']}/rotate", token=token),
        await api.post(f"{base}/{key['key_id']}/revoke", token=token),
    ]
    assert [_error(r) for r in attempts] == [(403, "role_forbidden")] * 4
    assert (await _ping(api, key)).status == 200


async def test_a_key_for_an_unknown_program_or_with_a_bad_name_is_refused(
    api: Api, admin: str
) -> None:
    missing = await api.post("/admin/v1/programs/999999/api-keys", token=admin, json={"name": "x"})
    assert _error(missing) == (404, "program_not_found")
    program_id = await _program(api, admin)
    unnamed = await api.post(f"/admin/v1/programs/{program_id}/api-keys", token=admin, json={})
    assert _error(unnamed) == (422, "validation_failed")


async def test_the_openapi_document_describes_the_signing_headers(api: Api) -> None:
    spec = (await api.get("/admin/v1/openapi.json")).json
    parameters = spec["paths"][PING]["post"]["parameters"]
    assert {(p["name"], p["in"]) for p in parameters} == {
        ("X-Fenxiao-Key", "header"),
        ("X-Fenxiao-Timestamp", "header"),
        ("X-Fenxiao-Nonce", "header"),
        ("X-Fenxiao-Signature", "header"),
    }
