"""Walks every guarded route of both surfaces with an expired token and with a token signed with
another key, and every program-scoped mini-program route with a promoter of another program:
none of them gets in."""

from __future__ import annotations

from datetime import timedelta

from sanic import Sanic

from server import clock
from server.auth import ALL_ROLES, Principal, encode_token, roles_of
from server.s2s_auth import is_s2s
from tests.api.conftest import Api
from tests.api.test_role_matrix import _concrete, surface_routes
from tests.conftest import TEST_JWT_SECRET
from tests.service.promoters.test_hierarchy import new_program, new_promoter

ANOTHER_KEY = "another-deployment-" + "k" * 40
# Open to any logged-in user of the mini-program, promoter of the program or not: reading a
# program's public terms, applying to it, and registering as its customer.
OPEN_TO_ANY_USER = {
    ("GET", "/mp/v1/programs/<program_id:int>"),
    ("POST", "/mp/v1/programs/<program_id:int>/applications"),
    ("POST", "/mp/v1/programs/<program_id:int>/register"),
}


def _token(role: str, *, secret: str = TEST_JWT_SECRET, ttl_seconds: int = 300) -> str:
    kind = "user" if role == "promoter" else "staff"
    principal = Principal(kind=kind, id=999999, roles=frozenset({role}))
    return encode_token(
        principal, secret=secret, token_type="access", ttl_seconds=ttl_seconds
    ).token


def _guarded(app: Sanic) -> list[tuple[str, str, set[str]]]:
    return [
        (method, path, set(roles_of(handler) or ()))
        for method, path, handler in surface_routes(app)
        if roles_of(handler) and not is_s2s(handler)
    ]


async def test_no_guarded_route_accepts_an_expired_token(api: Api, started_app: Sanic) -> None:
    expired = {role: _token(role, ttl_seconds=1) for role in sorted(ALL_ROLES)}
    clock.advance(timedelta(seconds=5))
    violations = []
    routes = _guarded(started_app)
    for method, path, allowed in routes:
        role = sorted(allowed)[0]  # the token would be let in were it not expired
        response = await api.request(method, _concrete(path), token=expired[role], json={})
        if (response.status, response.json["error"]["code"]) != (401, "token_expired"):
            violations.append(f"{method} {path} -> {response.status}")
    assert len(routes) >= 50
    assert violations == []


async def test_no_guarded_route_accepts_a_token_signed_with_another_key(
    api: Api, started_app: Sanic
) -> None:
    forged = {role: _token(role, secret=ANOTHER_KEY) for role in sorted(ALL_ROLES)}
    violations = []
    for method, path, allowed in _guarded(started_app):
        role = sorted(allowed)[0]
        response = await api.request(method, _concrete(path), token=forged[role], json={})
        if response.status != 401 or response.json["error"]["code"] == "token_expired":
            violations.append(f"{method} {path} -> {response.status}")
    assert violations == []


async def test_a_promoter_of_one_program_reaches_nothing_of_another(
    api: Api, started_app: Sanic
) -> None:
    mine, theirs = await new_program(), await new_program()
    me = await new_promoter(mine)
    await new_promoter(theirs)  # the other program has members of its own
    token = encode_token(
        Principal(kind="user", id=me.user_id, roles=frozenset({"promoter"})),
        secret=TEST_JWT_SECRET,
        token_type="access",
        ttl_seconds=300,
    ).token
    violations = []
    checked = 0
    for method, path, handler in surface_routes(started_app):
        if not path.startswith("/mp/v1/programs/<program_id:int>") or (method, path) in (
            OPEN_TO_ANY_USER
        ):
            continue
        if "promoter" not in set(roles_of(handler) or ()):
            continue
        url = _concrete(path.replace("<program_id:int>", str(theirs.id)))
        response = await api.request(method, url, token=token, json={})
        checked += 1
        if response.status < 400 or response.status >= 500:
            violations.append(f"{method} {path} -> {response.status}")
    assert checked >= 20
    assert violations == []
