"""A program's server-to-server API keys: create, rotate, revoke, list (admins only)."""

from __future__ import annotations

from pydantic import Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from sanic_ext import openapi

from server.auth import ROLES_ADMIN, requires
from server.domain.access.scopes import SCOPES
from server.http import Body, Query, parse_body, parse_query, render
from server.idempotent import create_once, render_created
from server.services.access import api_keys as api_key_service

bp = Blueprint("admin_api_keys")

KEY_ID = "<key_id:str>"


class ApiKeyCreate(Body):
    name: str = Field(min_length=1, max_length=64, description="what uses it, e.g. 'store'")
    scopes: list[str] | None = Field(
        default=None,
        max_length=len(SCOPES),
        description=f"what the key may do, of {', '.join(SCOPES)}; default: the write scopes",
    )


class ApiKeyFilter(Query):
    status: str | None = Field(default=None, description="active | revoked")
    cursor: int | None = Field(default=None, ge=0)
    limit: int = Field(default=50, ge=1, le=100)


@bp.get("/programs/<program_id:int>/api-keys")
@openapi.definition(summary="List a program's S2S API keys (no secrets)", secured={"bearer": []})
@requires(*ROLES_ADMIN)
async def list_api_keys(request: Request, program_id: int) -> HTTPResponse:
    query = parse_query(request, ApiKeyFilter)
    api_keys = await api_key_service.list_api_keys(
        program_id=program_id, status=query.status, cursor=query.cursor, limit=query.limit
    )
    return render(api_key_service.serialize_api_key_page(api_keys, limit=query.limit))


@bp.post("/programs/<program_id:int>/api-keys")
@openapi.definition(
    summary="Create an S2S API key; the secret is shown in this response only",
    body=ApiKeyCreate,
    secured={"bearer": []},
)
@requires(*ROLES_ADMIN)
async def create_api_key(request: Request, program_id: int) -> HTTPResponse:
    body = parse_body(request, ApiKeyCreate)
    settings = request.app.ctx.settings
    issued, replayed = await create_once(
        request,
        lambda: api_key_service.create_api_key(
            program_id=program_id,
            name=body.name,
            scopes=body.scopes,
            actor=request.ctx.principal,
            settings=settings,
            request_id=request.ctx.request_id,
        ),
        replay=lambda key_id: api_key_service.issued_again(api_key_id=key_id, settings=settings),
        body=body,
        id_of=lambda issued: issued.api_key.id,
    )
    return render_created(api_key_service.serialize_issued_api_key(issued), replayed=replayed)


@bp.post(f"/programs/<program_id:int>/api-keys/{KEY_ID}/rotate")
@openapi.definition(
    summary="Issue a replacement key (secret shown once); the old key works until revoked",
    secured={"bearer": []},
)
@requires(*ROLES_ADMIN)
async def rotate_api_key(request: Request, program_id: int, key_id: str) -> HTTPResponse:
    issued = await api_key_service.rotate_api_key(
        program_id=program_id,
        key_id=key_id,
        actor=request.ctx.principal,
        settings=request.app.ctx.settings,
        request_id=request.ctx.request_id,
    )
    return render(api_key_service.serialize_issued_api_key(issued), status=201)


@bp.post(f"/programs/<program_id:int>/api-keys/{KEY_ID}/revoke")
@openapi.definition(summary="Revoke an S2S API key at once (idempotent)", secured={"bearer": []})
@requires(*ROLES_ADMIN)
async def revoke_api_key(request: Request, program_id: int, key_id: str) -> HTTPResponse:
    api_key = await api_key_service.revoke_api_key(
        program_id=program_id,
        key_id=key_id,
        actor=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    return render(api_key_service.serialize_api_key(api_key))
