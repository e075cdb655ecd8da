"""Schemathesis against both served OpenAPI documents, with auth: no request gets a 5xx and
every 4xx carries the error shape {"error": {"code", "message", "fields"?}}.

Two kinds of input reach every operation:
- generated: schemathesis cases from the documents (which carry the exact pydantic schemas
  the handlers parse, server/openapi_schemas.py), valid and invalid, some aimed at seeded rows;
- hostile: malformed JSON, a body over the size limit, huge and negative numbers, unicode
  (emoji, right-to-left, NUL) and SQL-ish strings in every body field and query filter.

Generation is derandomized (fixed seed), so a run is reproducible in CI; a failure lists each
offending request (method, URL, body) with the answer.
"""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis.errors import Unsatisfiable
from hypothesis.strategies import SearchStrategy
from sanic import Sanic
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.openapi import from_dict
from schemathesis.specs.openapi.schemas import APIOperation

from tests.api.conftest import Api
from tests.fuzz.conftest import World

BASE_URL = "http://testserver"


@dataclass(frozen=True)
class Budget:
    """Cases per operation: valid ones with generated path ids, valid ones aimed at the
    seeded rows, and schema-violating ones."""

    valid: int
    seeded: int
    invalid: int


FULL = Budget(valid=4, seeded=3, invalid=3)
# Other back-office roles mostly meet 403s: one case of each kind is enough.
LIGHT = Budget(valid=1, seeded=1, invalid=1)
# server/app.py REQUEST_MAX_SIZE is 1 MB.
OVERSIZED_BODY = b'{"memo":"' + b"x" * 1_100_000 + b'"}'
MALFORMED_BODIES = (b'{"amount": "1.00",', b"\xff\xfe not utf-8", b"[1e400]", b"null")

# Raw JSON values (so 1e400 reaches the parser unrounded), set on every body field in turn.
HOSTILE_JSON_VALUES = ("1e400", str(10**30), "-1", '"-100.00"', '"1e400"')
HOSTILE_STRINGS = (
    "' OR 1=1 --",
    '"; DROP TABLE promoter; --',
    "😀💸🧧",
    "\u202eالمبلغ\u202c",
    "a\x00b",
    "x" * 5000,
)
HOSTILE_QUERY_VALUES = (*HOSTILE_STRINGS, "1e400", str(10**30), "-1")

SURFACE_CALLERS = [
    pytest.param("mp", "promoter", FULL, id="mp-as-promoter"),
    pytest.param("admin", "admin", FULL, id="admin-as-admin"),
    pytest.param("admin", "finance", LIGHT, id="admin-as-finance"),
    pytest.param("admin", "staff", LIGHT, id="admin-as-staff"),
]


@schemathesis.check
def error_body_has_the_documented_shape(ctx: Any, response: Any, case: Case) -> bool | None:
    """A 4xx answers {"error": {"code": str, "message": str, "fields"?: object}} and no more."""
    if not 400 <= response.status_code < 500:
        return None
    problem = error_shape_problem(response.content)
    if problem:
        raise AssertionError(f"{response.status_code} not in the error shape: {problem}")
    return True


def error_shape_problem(content: bytes) -> str | None:
    """What is wrong with an error body, or None when it has the documented shape."""
    try:
        body = json.loads(content)
    except ValueError:
        return f"not JSON: {content[:120]!r}"
    if not isinstance(body, dict) or set(body) != {"error"}:
        return f"top level is not exactly 'error': {str(body)[:200]}"
    error = body["error"]
    if not isinstance(error, dict):
        return "'error' is not an object"
    if not isinstance(error.get("code"), str) or not error["code"]:
        return "'code' is not a non-empty string"
    if not isinstance(error.get("message"), str):
        return "'message' is not a string"
    if not set(error) <= {"code", "message", "fields"}:
        return f"unexpected keys {sorted(set(error) - {'code', 'message', 'fields'})}"
    if "fields" in error and not isinstance(error["fields"], dict):
        return "'fields' is not an object"
    return None


@dataclass
class Findings:
    """Every offending request of a run, reported together at the end."""

    sent: int = 0
    problems: list[str] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)

    def record(self, response: httpx.Response) -> None:
        self.sent += 1
        self.statuses[f"{response.status_code // 100}xx"] += 1

    def summary(self, label: str, operations: int) -> str:
        """The run's figures (shown with `pytest -s` or `-rP`), as docs quote them."""
        answers = ", ".join(f"{count} {kind}" for kind, count in sorted(self.statuses.items()))
        return f"{label}: {operations} operations, {self.sent} requests ({answers})"

    def report(self) -> str:
        shown = "\n\n".join(self.problems[:40])
        return f"{len(self.problems)} of {self.sent} requests failed:\n\n{shown}"


async def _operations(api: Api, surface: str) -> list[APIOperation]:
    served = await api.get(f"/{surface}/v1/openapi.json")
    assert served.status == 200, served.text
    schema = from_dict(served.json)
    return [result.ok() for result in schema.get_all_operations()]


def _examples(strategy: SearchStrategy[Case], count: int) -> list[Case]:
    """`count` cases drawn reproducibly (fixed seed, no example database, no shrinking)."""
    drawn: list[Case] = []

    @settings(
        max_examples=count,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
    )
    @given(strategy)
    def collect(case: Case) -> None:
        drawn.append(case)

    # Unsatisfiable: nothing in the operation can be made invalid (it takes no input at all).
    with contextlib.suppress(Unsatisfiable):
        collect()
    return drawn


def _cases(operation: APIOperation, world: World, budget: Budget) -> Iterator[Case]:
    yield from _examples(operation.as_strategy(), budget.valid)
    seeded = {
        name: world.path_ids[name]
        for name in (p.name for p in operation.path_parameters)
        if name in world.path_ids
    }
    if seeded:
        yield from _examples(operation.as_strategy(path_parameters=seeded), budget.seeded)
    yield from _examples(
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE), budget.invalid
    )


def _auth_headers(headers: dict[str, str], token: str) -> dict[str, str]:
    kept = {k: v for k, v in headers.items() if k.lower() != "authorization"}
    return {**kept, "authorization": f"Bearer {token}"}


async def _send_case(api: Api, case: Case, token: str) -> httpx.Response:
    kwargs = case.as_transport_kwargs(base_url=BASE_URL)
    content = kwargs.get("data")
    response = await api.request(
        kwargs["method"],
        kwargs["url"].removeprefix(BASE_URL),
        headers=_auth_headers(kwargs.get("headers") or {}, token),
        json=kwargs.get("json"),
        content=content.encode() if isinstance(content, str) else content,
        params=kwargs.get("params"),
    )
    return response.raw


def _first_line(failure: BaseException) -> str:
    return next((line for line in str(failure).splitlines() if line.strip()), repr(failure))


def _describe(method: str, url: str, body: bytes | None) -> str:
    shown = body if body is None or len(body) < 300 else body[:300] + b"..."
    return f"{method} {url} body={shown!r}"


@pytest.mark.parametrize(("surface", "caller", "budget"), SURFACE_CALLERS)
async def test_generated_requests_never_get_a_5xx_and_every_4xx_has_the_error_shape(
    api: Api, app: Sanic, world: World, surface: str, caller: str, budget: Budget
) -> None:
    token = world.tokens[caller]
    findings = Findings()
    operations = await _operations(api, surface)
    for operation in operations:
        for case in _cases(operation, world, budget):
            response = await _send_case(api, case, token)
            findings.record(response)
            try:
                case.validate_response(
                    response, checks=[not_a_server_error, error_body_has_the_documented_shape]
                )
            except (AssertionError, FailureGroup) as failure:
                request = response.request
                findings.problems.append(
                    f"{_describe(request.method, str(request.url), request.content)}\n"
                    f"  -> {response.status_code} {response.text[:300]}\n  {_first_line(failure)}"
                )
    print(findings.summary(f"generated, {surface} as {caller}", len(operations)))
    assert not findings.problems, findings.report()


def _base_body(operation: APIOperation) -> dict[str, Any]:
    for case in _examples(operation.as_strategy(), 1):
        if isinstance(case.body, dict):
            return case.body
    return {}


def _with_raw_value(body: dict[str, Any], name: str, raw_json: str) -> bytes:
    """`body` with `name` set to the raw JSON text `raw_json` (which may overflow a float)."""
    rest = {key: value for key, value in body.items() if key != name}
    prefix = json.dumps(rest, ensure_ascii=False)[:-1]
    separator = ", " if rest else ""
    return f"{prefix}{separator}{json.dumps(name)}: {raw_json}}}".encode()


def _body_fields(operation: APIOperation) -> list[str]:
    body = operation.body
    if not body:
        return []
    schema = next(iter(body)).definition.get("schema", {})
    return list(schema.get("properties", {}))


def _query_names(operation: APIOperation) -> list[str]:
    return [parameter.name for parameter in operation.query]


def _hostile_requests(
    operation: APIOperation, world: World
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(path, request kwargs) for each hostile input the operation takes."""
    path = operation.path.format(
        **{p.name: world.path_ids.get(p.name, 1) for p in operation.path_parameters}
    )
    json_headers = {"content-type": "application/json"}
    fields = _body_fields(operation)
    if fields or operation.body:
        for raw in (*MALFORMED_BODIES, OVERSIZED_BODY):
            yield path, {"content": raw, "headers": json_headers}
        base = _base_body(operation)
        for name in fields:
            for raw_value in HOSTILE_JSON_VALUES:
                yield (
                    path,
                    {"content": _with_raw_value(base, name, raw_value), "headers": json_headers},
                )
            for text in HOSTILE_STRINGS:
                content = _with_raw_value(base, name, json.dumps(text, ensure_ascii=False))
                yield path, {"content": content, "headers": json_headers}
    for name in _query_names(operation):
        for value in HOSTILE_QUERY_VALUES:
            yield path, {"params": {name: value}}


def _hostile_answer_problem(response: httpx.Response) -> str | None:
    status = response.status_code
    if status >= 500:
        return "server error"
    return error_shape_problem(response.content) if status >= 400 else None


@pytest.mark.parametrize(
    ("surface", "caller"), [("mp", "promoter"), ("admin", "admin")], ids=["mp", "admin"]
)
async def test_hostile_bodies_and_filters_are_refused_in_the_error_shape(
    api: Api, app: Sanic, world: World, surface: str, caller: str
) -> None:
    token = world.tokens[caller]
    findings = Findings()
    operations = await _operations(api, surface)
    for operation in operations:
        for path, kwargs in _hostile_requests(operation, world):
            headers = _auth_headers(kwargs.pop("headers", {}), token)
            response = (
                await api.request(operation.method.upper(), path, headers=headers, **kwargs)
            ).raw
            findings.record(response)
            problem = _hostile_answer_problem(response)
            if problem:
                request = response.request
                findings.problems.append(
                    f"{_describe(request.method, str(request.url), request.content)}\n"
                    f"  -> {response.status_code} {response.text[:300]}\n  {problem}"
                )
    print(findings.summary(f"hostile, {surface} as {caller}", len(operations)))
    assert not findings.problems, findings.report()
