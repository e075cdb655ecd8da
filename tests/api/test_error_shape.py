"""Bad input gets one JSON error shape, the right 4xx and a stable code."""

from __future__ import annotations

from datetime import timedelta

import jwt
import pytest

from server import clock
from server.auth import Principal, encode_token
from tests.api.conftest import Api
from tests.conftest import TEST_JWT_SECRET

CREATE_STAFF = "/admin/v1/staff"
VALID_STAFF = {"username": "newbie", "password": "long enough pw", "roles": ["staff"]}


def _assert_error(response, status: int, code: str) -> dict:
    assert response.status == status, response.text
    body = response.json
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]


async def test_malformed_json_is_a_400(api: Api) -> None:
    token = await api.staff_token("admin")
    response = await api.post(
        CREATE_STAFF,
        token=token,
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    _assert_error(response, 400, "malformed_json")


async def test_a_json_array_body_is_a_400(api: Api) -> None:
    token = await api.staff_token("admin")
    response = await api.post(CREATE_STAFF, token=token, json=[VALID_STAFF])
    _assert_error(response, 400, "body_not_object")


async def test_an_unknown_field_is_named_in_the_error(api: Api) -> None:
    token = await api.staff_token("admin")
    response = await api.post(CREATE_STAFF, token=token, json={**VALID_STAFF, "is_root": True})
    error = _assert_error(response, 422, "validation_failed")
    assert error["fields"] == {"is_root": "unknown field"}


@pytest.mark.parametrize(
    ("field", "value"),
    [("username", 123), ("roles", "staff"), ("password", None), ("roles", [1])],
)
async def test_a_wrong_type_is_a_422_naming_the_field(api: Api, field: str, value: object) -> None:
    token = await api.staff_token("admin")
    response = await api.post(CREATE_STAFF, token=token, json={**VALID_STAFF, field: value})
    error = _assert_error(response, 422, "validation_failed")
    assert any(key.split(".")[0] == field for key in error["fields"])


async def test_a_missing_field_is_reported_as_required(api: Api) -> None:
    token = await api.staff_token("admin")
    body = {k: v for k, v in VALID_STAFF.items() if k != "roles"}
    error = _assert_error(
        await api.post(CREATE_STAFF, token=token, json=body), 422, "validation_failed"
    )
    assert error["fields"] == {"roles": "required"}


async def test_nothing_is_written_when_validation_fails(api: Api) -> None:
    token = await api.staff_token("admin")
    await api.post(CREATE_STAFF, token=token, json={**VALID_STAFF, "roles": ["janitor"]})
    listing = await api.get(CREATE_STAFF, token=token)
    assert "newbie" not in [u["username"] for u in listing.json["items"]]


async def test_a_missing_token_is_a_401(api: Api) -> None:
    _assert_error(await api.get(CREATE_STAFF), 401, "auth_required")


async def test_a_non_bearer_authorization_is_a_401(api: Api) -> None:
    response = await api.get(CREATE_STAFF, headers={"authorization": "Basic YWRtaW46YWRtaW4="})
    _assert_error(response, 401, "auth_required")


async def test_an_expired_token_is_a_401_token_expired(api: Api) -> None:
    token = encode_token(
        Principal(kind="staff", id=1, roles=frozenset({"admin"})),
        secret=TEST_JWT_SECRET,
        token_type="access",
        ttl_seconds=1,
    ).token
    clock.advance(timedelta(seconds=5))
    _assert_error(await api.get(CREATE_STAFF, token=token), 401, "token_expired")


async def test_a_token_forged_with_another_key_is_a_401(api: Api) -> None:
    forged = encode_token(
        Principal(kind="staff", id=1, roles=frozenset({"admin"})),
        secret="another-secret-" + "y" * 40,
        token_type="access",
        ttl_seconds=60,
    ).token
    _assert_error(await api.get(CREATE_STAFF, token=forged), 401, "token_invalid")


async def test_a_tampered_role_claim_breaks_the_signature(api: Api) -> None:
    token = await api.staff_token("staff")
    claims = jwt.decode(token, options={"verify_signature": False})
    claims["roles"] = ["admin"]
    header, _, signature = token.split(".")
    payload = jwt.encode(claims, "irrelevant" * 4, algorithm="HS256").split(".")[1]
    tampered = f"{header}.{payload}.{signature}"
    _assert_error(await api.get(CREATE_STAFF, token=tampered), 401, "token_invalid")


async def test_a_wrong_role_is_a_403(api: Api) -> None:
    token = await api.staff_token("finance")
    _assert_error(await api.get(CREATE_STAFF, token=token), 403, "role_forbidden")


async def test_a_promoter_token_cannot_reach_admin_routes(api: Api) -> None:
    token = encode_token(
        Principal(kind="user", id=1, roles=frozenset({"promoter"})),
        secret=TEST_JWT_SECRET,
        token_type="access",
        ttl_seconds=60,
    ).token
    _assert_error(await api.get("/admin/v1/auth/me", token=token), 403, "role_forbidden")


async def test_an_unknown_route_is_a_404_in_the_same_shape(api: Api) -> None:
    _assert_error(await api.get("/admin/v1/no-such-thing"), 404, "route_not_found")


async def test_a_wrong_method_is_a_405_in_the_same_shape(api: Api) -> None:
    _assert_error(await api.delete("/admin/v1/auth/login"), 405, "method_not_allowed")


async def test_health_is_liveness_and_readiness_reports_the_database(api: Api) -> None:
    response = await api.get("/healthz")
    assert response.status == 200
    assert response.json == {"status": "ok"}
    ready = await api.get("/readyz")
    assert ready.status == 200
    assert ready.json == {
        "status": "ready",
        "checks": {"database": "ok", "broker": "not_configured"},
    }


@pytest.mark.parametrize(("surface", "prefix"), [("mp", "/mp/v1/"), ("admin", "/admin/v1/")])
async def test_each_surface_serves_its_own_openapi_document(
    api: Api, surface: str, prefix: str
) -> None:
    response = await api.get(f"{prefix}openapi.json")
    assert response.status == 200
    spec = response.json
    assert spec["openapi"].startswith("3.")
    assert spec["paths"], "no paths documented"
    assert all(path.startswith(prefix) for path in spec["paths"])
    assert f"{prefix}auth/login" in spec["paths"]


TOO_WIDE = 10**30  # wider than any integer column (SQLite INTEGER, MySQL BIGINT)


async def test_an_integer_wider_than_the_database_holds_is_a_422_naming_the_field(
    api: Api,
) -> None:
    token = await api.staff_token("admin")
    in_body = await api.post(
        "/admin/v1/promoters/bulk", token=token, json={"action": "approve", "ids": [1, TOO_WIDE]}
    )
    in_query = await api.get("/admin/v1/withdrawals", token=token, params={"promoter_id": TOO_WIDE})

    assert _assert_error(in_body, 422, "validation_failed")["fields"] == {
        "ids": "Value error, integer out of range"
    }
    assert _assert_error(in_query, 422, "invalid_query")["fields"] == {
        "promoter_id": "Value error, integer out of range"
    }


@pytest.mark.parametrize("path_id", [TOO_WIDE, -TOO_WIDE])
async def test_a_path_id_wider_than_the_database_holds_is_a_404(api: Api, path_id: int) -> None:
    token = await api.staff_token("admin")
    response = await api.get(f"/admin/v1/programs/{path_id}/sites", token=token)
    # "not_found" on SQLite, which cannot compare such an id; MySQL finds no such program.
    assert response.status == 404, response.text
    assert set(response.json) == {"error"} and isinstance(response.json["error"]["code"], str)
