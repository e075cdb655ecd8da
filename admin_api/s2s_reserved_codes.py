"""The store's own coupon codes, reserved over signed S2S so no promoter code can take or
credit them; the program comes from the signing key."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from sanic_ext import openapi

from server.domain.access.scopes import CATALOG_WRITE
from server.domain.pagination import page_body
from server.http import Body, Query, parse_body, parse_query, render
from server.s2s_auth import S2S_OPENAPI_HEADERS, s2s_signed
from server.services.sharing import reserved_codes

bp = Blueprint("admin_s2s_reserved_codes")

CodeText = Annotated[str, Field(min_length=1, max_length=64, pattern=r"\S")]


class ReservedCodeEntry(Body):
    code: CodeText = Field(description="the coupon code as the store prints it (any case)")
    note: str | None = Field(default=None, max_length=128, description="e.g. the campaign")


class Reservation(Body):
    codes: list[ReservedCodeEntry] = Field(
        min_length=1, max_length=reserved_codes.MAX_RESERVED_BATCH
    )


class Release(Body):
    codes: list[CodeText] = Field(min_length=1, max_length=reserved_codes.MAX_RESERVED_BATCH)


class ReservedPage(Query):
    q: str | None = Field(default=None, min_length=1, max_length=64)
    cursor: int | None = Field(default=None, ge=0)
    limit: int = Field(default=50, ge=1, le=100)


@bp.post("/s2s/reserved-codes")
@openapi.definition(
    summary="Reserve up to 500 of the store's coupon codes (idempotent); one result per code",
    body=Reservation,
    parameter=S2S_OPENAPI_HEADERS,
)
@s2s_signed(scope=CATALOG_WRITE)
async def reserve(request: Request) -> HTTPResponse:
    body = parse_body(request, Reservation)
    items = await reserved_codes.reserve_codes(
        program_id=request.ctx.s2s.program_id,
        codes=[entry.model_dump() for entry in body.codes],
        key_id=request.ctx.s2s.key_id,
    )
    return render({"items": items})


@bp.post("/s2s/reserved-codes/release")
@openapi.definition(
    summary="Release reserved coupon codes (idempotent); one result per code",
    body=Release,
    parameter=S2S_OPENAPI_HEADERS,
)
@s2s_signed(scope=CATALOG_WRITE)
async def release(request: Request) -> HTTPResponse:
    body = parse_body(request, Release)
    items = await reserved_codes.release_codes(
        program_id=request.ctx.s2s.program_id, codes=body.codes, key_id=request.ctx.s2s.key_id
    )
    return render({"items": items})


@bp.get("/s2s/reserved-codes")
@openapi.definition(
    summary="The program's reserved coupon codes, by id", parameter=S2S_OPENAPI_HEADERS
)
@s2s_signed(scope=CATALOG_WRITE)
async def list_reserved(request: Request) -> HTTPResponse:
    query = parse_query(request, ReservedPage)
    codes = await reserved_codes.list_reserved_codes(
        program_id=request.ctx.s2s.program_id, q=query.q, cursor=query.cursor, limit=query.limit
    )
    return render(
        page_body([reserved_codes.serialize_reserved_code(c) for c in codes], query.limit)
    )
