"""Idempotency keys over HTTP: read the key, scope it to the caller and the route, and answer
a replay with the first record (200 where the first answer was 201, `Idempotent-Replayed`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from typing import Any, TypeVar

from pydantic import BaseModel
from sanic import Request
from sanic.response import HTTPResponse

from server.domain.errors import ValidationFailed
from server.domain.idempotency import HEADER, RequestKey, request_digest, resolve_key
from server.http import render
from server.services import idempotency

T = TypeVar("T")

REPLAYED_HEADER = "Idempotent-Replayed"


def _subject(request: Request) -> str:
    caller = getattr(request.ctx, "s2s", None)
    return f"store:{caller.program_id}" if caller is not None else request.ctx.principal.subject


def request_key(
    request: Request,
    *,
    body: BaseModel | None = None,
    body_key: str | None = None,
    secret_fields: Collection[str] = (),
) -> RequestKey | None:
    """The request's key (header or `body_key`) scoped to its caller and route, or None; a
    signed S2S request's caller is its key's program (a rotated key keeps its keys)."""
    key = resolve_key(request.headers.get(HEADER), body_key)
    if key is None:
        return None
    # Secrets (a new account's password) stay out of the stored digest.
    excluded = {"idempotency_key", *secret_fields}
    digest = request_digest(
        {
            "path": request.path,
            "body": body.model_dump(mode="json", exclude=excluded) if body else None,
        }
    )
    return RequestKey(
        subject=_subject(request),
        route=f"{request.method} /{request.route.path}",
        key=key,
        digest=digest,
    )


def required_key(request: Request, *, body: BaseModel, body_key: str | None) -> RequestKey:
    """The key of a request that moves money: required, as a header or in the body."""
    key = request_key(request, body=body, body_key=body_key)
    if key is None:
        raise ValidationFailed(
            "an idempotency key is required",
            code="idempotency_key_required",
            fields={HEADER: "required (or idempotency_key in the body)"},
        )
    return key


async def create_once(
    request: Request,
    work: Callable[[], Awaitable[T]],
    *,
    replay: Callable[[int], Awaitable[T]],
    body: BaseModel | None = None,
    body_key: str | None = None,
    secret_fields: Collection[str] = (),
    id_of: Callable[[T], int] = idempotency.resource_id_of,
) -> tuple[T, bool]:
    """Run a creating use case once per Idempotency-Key; (result, replayed)."""
    key = request_key(request, body=body, body_key=body_key, secret_fields=secret_fields)
    return await idempotency.create_once(key, work, replay=replay, id_of=id_of)


def render_created(data: Any, *, replayed: bool) -> HTTPResponse:
    """201 with the new record, or 200 with the first one when the key was replayed."""
    response = render(data, status=200 if replayed else 201)
    if replayed:
        response.headers[REPLAYED_HEADER] = "true"
    return response
