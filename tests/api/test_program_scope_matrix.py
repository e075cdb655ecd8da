"""Walks every admin route as a staff + finance account limited to one program, with a second
program holding a record of every kind: the limited account reaches nothing of the second
program (another program's record is a 404, like a missing one) and its lists show none of it.
A route that forgets the scope fails here."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from sanic import Sanic

from server.auth import roles_of
from server.s2s_auth import is_s2s
from server.services.access.scope import PARAMETERS, RESOURCES
from tests.api.conftest import Api
from tests.api.test_role_matrix import _PARAM, surface_routes
from tests.scope_world import World, build_world, limited_account, login

ROLES = ("staff", "finance")
SCOPE_CODES = {f"{kind}_not_found" for kind in RESOURCES} | {"not_found"}
# What these answer holds no program's records: the caller's own account, a sign-out, and the
# reconciliation report (counts only; tests/api/test_program_scope_api.py checks its count).
NO_PROGRAM_RECORDS = {
    ("GET", "/admin/v1/auth/me"),
    ("POST", "/admin/v1/auth/logout"),
    ("GET", "/admin/v1/ledger/reconcile"),
}
# The route parameter naming each kind of record.
PARAMETER_OF = {kind: name for name, kind in PARAMETERS.items()}


@pytest.fixture
async def scene(api: Api) -> dict[str, Any]:
    mine, theirs = await build_world(), await build_world()
    await limited_account("limited", mine.program, roles=ROLES)
    await limited_account("everywhere", roles=ROLES)
    return {
        "mine": mine,
        "theirs": theirs,
        "limited": await login(api, "limited"),
        "everywhere": await login(api, "everywhere"),
    }


def _reachable(app: Sanic) -> list[tuple[str, str, Any]]:
    """Admin routes a staff or finance account may call."""
    return [
        (method, path, handler)
        for method, path, handler in surface_routes(app)
        if path.startswith("/admin/")
        and not is_s2s(handler)
        and set(roles_of(handler) or ()) & set(ROLES)
    ]


def _fill(path: str, world: World) -> str:
    def record(match: Any) -> str:
        found = world.id_for(path, match.group(1))
        assert found is not None, f"no record for <{match.group(1)}> of {path}: add it"
        return str(found)

    return _PARAM.sub(record, path)


def _program_ids(response: Any, path: str) -> set[int]:
    """Every program a JSON or CSV answer shows a record of."""
    if path == "/admin/v1/programs":
        return {item["id"] for item in response.json["items"]}
    if "text/csv" in response.content_type:
        rows = list(csv.DictReader(io.StringIO(response.text)))
        return {int(row["program_id"]) for row in rows if row.get("program_id")}
    found: set[int] = set()

    def walk(value: Any, key: str | None = None) -> None:
        if isinstance(value, dict):
            for name, item in value.items():
                walk(item, name)
        elif isinstance(value, list):
            for item in value:
                walk(item, key)
        elif key == "program_id" and isinstance(value, int):
            found.add(value)

    walk(response.json)
    return found


async def test_a_limited_account_reaches_no_record_of_another_program(
    api: Api, started_app: Sanic, scene: dict[str, Any]
) -> None:
    mine, theirs = scene["mine"], scene["theirs"]
    violations, checked = [], 0
    for method, path, _ in _reachable(started_app):
        if "<" not in path:
            continue
        response = await api.request(method, _fill(path, theirs), token=scene["limited"], json={})
        if response.status != 404:
            violations.append(f"{method} {path} on another program -> {response.status}")
        missing = await api.request(
            method, _PARAM.sub("999999999", path), token=scene["limited"], json={}
        )
        if (missing.status, missing.json) != (response.status, response.json):
            violations.append(f"{method} {path}: another program's record differs from none")
        own = await api.request(method, _fill(path, mine), token=scene["limited"], json={})
        code = (own.json or {}).get("error", {}).get("code") if "json" in own.content_type else ""
        if (own.status == 404 and code in SCOPE_CODES) or own.status >= 500:
            violations.append(f"{method} {path} on its own program -> {own.status} {code}")
        checked += 1
    assert checked >= 60, "the walk found too few routes naming a record"
    assert violations == []


async def test_a_limited_account_lists_and_exports_only_its_programs(
    api: Api, started_app: Sanic, scene: dict[str, Any]
) -> None:
    mine, theirs = scene["mine"].program.id, scene["theirs"].program.id
    violations, checked = [], 0
    for method, path, _ in _reachable(started_app):
        if method != "GET" or "<" in path or (method, path) in NO_PROGRAM_RECORDS:
            continue
        # Lists that need a program are read with the account's own; the rest with none.
        for params in ({}, {"program_id": mine}):
            everyone = await api.get(path, token=scene["everywhere"], params=params)
            limited = await api.get(path, token=scene["limited"], params=params)
            if everyone.status == 422:
                continue  # a list that needs a program, or one with no program filter
            if everyone.status != 200 or limited.status != 200:
                violations.append(f"{path} {params} -> {everyone.status}/{limited.status}")
                continue
            seen_by_all = _program_ids(everyone, path)
            if not params and theirs not in seen_by_all:
                violations.append(f"{path}: the walk's records do not reach this list")
            if _program_ids(limited, path) - {mine}:
                violations.append(f"{path} {params} shows another program to a limited account")
            checked += 1
    assert checked >= 12, "the walk found too few lists"
    assert violations == []


async def test_a_limited_account_cannot_name_another_programs_record_in_a_query_or_body(
    api: Api, started_app: Sanic, scene: dict[str, Any]
) -> None:
    mine, theirs = scene["mine"], scene["theirs"]
    violations, checked = [], 0
    for method, path, handler in _reachable(started_app):
        fields: dict[str, str] = getattr(handler, "__scope_body__", {})
        if method == "GET" and "<" not in path:
            for name in sorted(PARAMETERS):
                params = {name: theirs.ids[name]}
                response = await api.get(path, token=scene["limited"], params=params)
                if response.status != 404:
                    violations.append(f"{path}?{name}=<theirs> -> {response.status}")
                checked += 1
        elif "<" not in path and not fields and (method, path) not in NO_PROGRAM_RECORDS:
            violations.append(f"{method} {path} declares no body field naming a record")
        for name, kind in sorted(fields.items()):
            record = theirs.ids[PARAMETER_OF[kind]]
            body = {name: [record] if name.endswith("ids") else record}
            url = _fill(path, mine)
            response = await api.request(method, url, token=scene["limited"], json=body)
            if response.status != 404:
                violations.append(f"{method} {path} body {name}=<theirs> -> {response.status}")
            checked += 1
    assert checked >= 100
    assert violations == []
