"""Walks every console page naming a record as a staff + finance account limited to one program,
with a second program holding a record of every kind: another program's record is the same 404
page as a missing one, its own records open. A console page that forgets the scope fails here."""

from __future__ import annotations

import csv
import io
import re

import httpx
from sanic import Sanic

from server.auth import roles_of
from tests.api.console.client import Console
from tests.api.test_role_matrix import _PARAM, console_routes
from tests.scope_world import World, build_world, limited_account

ROLES = ("staff", "finance")
MISSING = "999999999"
# Path parameters naming an action, not a record: filled with a real one.
WORDS = {"action": "approve"}


def _console_routes(app: Sanic, *, method: str) -> list[str]:
    """Console paths with a path parameter that a staff or finance account may call."""
    return [
        path
        for verb, path, handler in console_routes(app)
        if verb == method and "<" in path and set(roles_of(handler) or ()) & set(ROLES)
    ]


def _fill(path: str, world: World | None) -> str:
    def record(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in WORDS:
            return WORDS[name]
        if world is None:
            return MISSING
        found = world.id_for(path, name)
        assert found is not None, f"no record for <{name}> of {path}: add it to scope_world"
        return str(found)

    return _PARAM.sub(record, path)


def _page(response: httpx.Response, path: str) -> tuple[int, str]:
    """The answer with the address it was asked at taken out (the language switch links it)."""
    return response.status_code, response.text.replace(path, "…")


async def _scene(app: Sanic, username: str) -> tuple[World, World, Console]:
    # The app's media directory: a poster template's preview draws its stored background.
    settings = app.ctx.settings
    mine, theirs = await build_world(settings), await build_world(settings)
    await limited_account(username, mine.program, roles=ROLES)
    console = Console(app)
    assert (await console.sign_in(username)).status_code == 303
    return mine, theirs, console


async def test_a_limited_account_opens_no_console_page_of_another_program(app: Sanic) -> None:
    mine, theirs, console = await _scene(app, "limited_walk")
    violations, checked = [], 0
    for path in _console_routes(app, method="GET"):
        other = await console.get(_fill(path, theirs))
        if other.status_code != 404:
            violations.append(f"GET {path} on another program -> {other.status_code}")
        missing = await console.get(_fill(path, None))
        if _page(other, _fill(path, theirs)) != _page(missing, _fill(path, None)):
            violations.append(f"GET {path}: another program's record differs from none")
        own = await console.get(_fill(path, mine))
        if own.status_code == 404 or own.status_code >= 500:
            violations.append(f"GET {path} on its own program -> {own.status_code}")
        checked += 1
    await console.close()
    assert checked >= 8, "the walk found too few console pages naming a record"
    assert violations == []


async def test_a_limited_account_changes_nothing_of_another_program(app: Sanic) -> None:
    _, theirs, console = await _scene(app, "limited_writes")
    await console.get("/console/promoters")  # a page, for the form's CSRF token
    violations, checked = [], 0
    for path in _console_routes(app, method="POST"):
        response = await console.post(_fill(path, theirs), {})
        if response.status_code != 404:
            violations.append(f"POST {path} on another program -> {response.status_code}")
        checked += 1
    await console.close()
    assert checked >= 12, "the walk found too few console forms naming a record"
    assert violations == []


async def test_a_limited_account_cannot_tick_or_name_another_programs_records(
    app: Sanic,
) -> None:
    mine, theirs, console = await _scene(app, "limited_forms")
    await console.get("/console/promoters")  # a page, for the form's CSRF token
    for path, kind, data in (
        ("/console/applications", "promoter_id", {"action": "approve"}),
        ("/console/commissions/review", "commission_id", {"action": "approve"}),
        ("/console/anomalies", "anomaly_id", {"action": "dismiss", "note": "n"}),
    ):
        ticked = [str(mine.ids[kind]), str(theirs.ids[kind])]
        response = await console.post(path, {**data, "ids": ticked})
        assert response.status_code == 404, path
        assert str(theirs.ids[kind]) in response.text, path
    statement = await console.get(
        f"/console/statements?promoter_id={theirs.ids['promoter_id']}&period=2026-01"
    )
    assert statement.status_code == 404
    await console.close()


async def test_a_limited_account_exports_only_its_programs_rows(app: Sanic) -> None:
    mine, theirs, console = await _scene(app, "limited_exports")
    for name in ("commissions", "withdrawals", "payout-batches"):
        response = await console.get(f"/console/exports/{name}.csv")
        assert response.status_code == 200, name
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert {int(row["program_id"]) for row in rows} == {mine.program.id}, name
        other = await console.get(f"/console/exports/{name}.csv?program_id={theirs.program.id}")
        assert other.status_code == 404, name
    await console.close()
