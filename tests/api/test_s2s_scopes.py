"""Scoped API keys: every signed route needs its scope (403 s2s_scope_missing otherwise), the
store reads its own program's commissions, promoters and reports with signed GETs, and a
signed GET is bound to its query string and spent once."""

from __future__ import annotations

from typing import Any

import pytest
from sanic import Sanic

from server.db import connection
from server.domain.access.scopes import SCOPES, WRITE_SCOPES
from server.models import ApiKey, Promoter
from server.s2s_auth import is_s2s, s2s_scope
from tests.api.conftest import Api
from tests.api.test_role_matrix import _concrete, surface_routes
from tests.api.test_s2s_auth import _program
from tests.order_builders import shop
from tests.report_builders import day_in_shanghai
from tests.s2s_client import encode_json, s2s_get, s2s_post, sign_request

# Signed routes any live key may call: the signature checks merchants test their code with.
UNSCOPED = {"POST /admin/v1/s2s/ping", "POST /admin/v1/programs/<program_id:int>/s2s/ping"}
DAY = "from=2026-03-02&to=2026-03-02&preset=custom"


@pytest.fixture
async def admin(api: Api) -> str:
    return await api.staff_token("admin", username="scopes_admin")


async def _key(api: Api, admin: str, program_id: int, scopes: list[str] | None) -> dict[str, Any]:
    body: dict[str, Any] = {"name": "store"}
    if scopes is not None:
        body["scopes"] = scopes
    response = await api.post(f"/admin/v1/programs/{program_id}/api-keys", token=admin, json=body)
    assert response.status == 201, response.text
    return response.json


def _error(response: Any) -> tuple[int, str]:
    return response.status, response.json["error"]["code"]


async def _call(api: Api, method: str, path: str, key: dict[str, Any]) -> Any:
    if method == "GET":
        return await s2s_get(api, path, key_id=key["key_id"], secret=key["secret"])
    return await s2s_post(api, path, key_id=key["key_id"], secret=key["secret"], json_body={})


def test_every_signed_route_but_the_pings_names_a_known_scope(started_app: Sanic) -> None:
    routes = [(m, p, h) for m, p, h in surface_routes(started_app) if is_s2s(h)]
    assert {f"{m} {p}" for m, p, h in routes if s2s_scope(h) is None} == UNSCOPED
    assert {s2s_scope(h) for _m, _p, h in routes} - {None} <= set(SCOPES)


async def test_every_scoped_route_refuses_a_key_without_its_scope_and_admits_one_with_it(
    api: Api, admin: str, started_app: Sanic
) -> None:
    program_id = await _program(api, admin)
    keys = {scope: await _key(api, admin, program_id, [scope]) for scope in SCOPES}
    wrong: list[str] = []
    for method, path, handler in surface_routes(started_app):
        scope = s2s_scope(handler)
        if not is_s2s(handler) or scope is None:
            continue
        url = _concrete(path).replace("999999", str(program_id))
        for granted, key in keys.items():
            response = await _call(api, method, url, key)
            refused = (
                response.status == 403 and response.json["error"]["code"] == "s2s_scope_missing"
            )
            if refused != (granted != scope):
                wrong.append(f"{method} {path} with {granted}: {response.status}")
    assert wrong == []


async def test_a_key_made_without_scopes_gets_the_write_scopes_keys_always_had(
    api: Api, admin: str
) -> None:
    program_id = await _program(api, admin)
    legacy = await _key(api, admin, program_id, None)
    assert legacy["scopes"] == list(WRITE_SCOPES)
    reader = await _key(api, admin, program_id, ["reports:read", "commissions:read"])
    assert reader["scopes"] == ["commissions:read", "reports:read"]
    listed = await api.get(f"/admin/v1/programs/{program_id}/api-keys", token=admin)
    assert [item["scopes"] for item in listed.json["items"]] == [
        list(WRITE_SCOPES),
        ["commissions:read", "reports:read"],
    ]
    rotated = await api.post(
        f"/admin/v1/programs/{program_id}/api-keys/{reader['key_id']}/rotate", token=admin
    )
    assert rotated.json["scopes"] == ["commissions:read", "reports:read"]
    bad = await api.post(
        f"/admin/v1/programs/{program_id}/api-keys",
        token=admin,
        json={"name": "x", "scopes": ["orders:delete"]},
    )
    assert _error(bad) == (422, "invalid_scope")
    empty = await api.post(
        f"/admin/v1/programs/{program_id}/api-keys", token=admin, json={"name": "x", "scopes": []}
    )
    assert _error(empty) == (422, "invalid_scope")


async def test_the_upgrade_gives_keys_made_before_scopes_the_write_scopes(
    api: Api, admin: str
) -> None:
    from importlib import import_module

    migration = import_module("server.migrations.0027_catalog_and_key_scopes")
    program_id = await _program(api, admin)
    key = await _key(api, admin, program_id, ["reports:read"])
    await ApiKey.filter(key_id=key["key_id"]).update(scopes=None)

    class Editor:
        client = connection()

    await migration.grant_legacy_scopes(None, Editor())
    stored = await ApiKey.get(key_id=key["key_id"])
    assert stored.scopes.split() == list(WRITE_SCOPES)


async def test_the_store_reads_its_programs_commissions_promoters_and_reports(
    api: Api, admin: str
) -> None:
    program, top, _nearest = await day_in_shanghai()
    await Promoter.filter(id=top.id).update(phone="13812345678")
    other = await shop()
    key = await _key(api, admin, program.id, ["commissions:read", "promoters:read", "reports:read"])
    sign = {"key_id": key["key_id"], "secret": key["secret"]}

    commissions = await s2s_get(api, "/admin/v1/s2s/commissions?limit=1", **sign)
    assert commissions.status == 200, commissions.text
    assert len(commissions.json["items"]) == 1 and commissions.json["next_cursor"]
    assert {c["program_id"] for c in commissions.json["items"]} == {program.id}
    level = await s2s_get(api, "/admin/v1/s2s/commissions?level=2", **sign)
    assert [c["level"] for c in level.json["items"]] == [2]
    elsewhere = await s2s_get(api, f"/admin/v1/s2s/commissions?program_id={other.id}", **sign)
    assert _error(elsewhere) == (403, "s2s_wrong_program")

    promoters = await s2s_get(api, "/admin/v1/s2s/promoters", **sign)
    assert promoters.status == 200, promoters.text
    phones = {p["id"]: p["phone"] for p in promoters.json["items"]}
    assert phones[top.id] != "13812345678" and phones[top.id].endswith("5678")
    assert _error(await s2s_get(api, f"/admin/v1/s2s/promoters?program_id={other.id}", **sign)) == (
        403,
        "s2s_wrong_program",
    )

    overview = await s2s_get(api, f"/admin/v1/s2s/reports/overview?{DAY}", **sign)
    assert overview.status == 200, overview.text
    assert overview.json["totals"]["net_sales"] == "80.00"
    breakdown = await s2s_get(api, f"/admin/v1/s2s/reports/breakdown?dimension=level&{DAY}", **sign)
    assert {i["value"]: i["commissions"] for i in breakdown.json["items"]} == {
        "1": "8.00",
        "2": "4.00",
    }


async def test_a_signed_get_is_bound_to_its_query_and_spent_once(api: Api, admin: str) -> None:
    program_id = await _program(api, admin)
    key = await _key(api, admin, program_id, ["commissions:read"])
    path = "/admin/v1/s2s/commissions?status=pending"
    headers = sign_request(
        key_id=key["key_id"], secret=key["secret"], method="GET", path=path, body=b""
    )
    tampered = await api.get("/admin/v1/s2s/commissions?status=settled", headers=headers)
    assert _error(tampered) == (401, "s2s_signature_invalid")
    dropped = await api.get("/admin/v1/s2s/commissions", headers=headers)
    assert _error(dropped) == (401, "s2s_signature_invalid")
    assert (await api.get(path, headers=headers)).status == 200
    assert _error(await api.get(path, headers=headers)) == (409, "s2s_replayed")
    as_post = await api.post(path, content=encode_json({}), headers=headers)
    assert as_post.status in {401, 404, 405}
    stale = sign_request(
        key_id=key["key_id"],
        secret=key["secret"],
        method="GET",
        path=path,
        body=b"",
        timestamp=1,
    )
    assert _error(await api.get(path, headers=stale)) == (401, "s2s_timestamp_out_of_window")
