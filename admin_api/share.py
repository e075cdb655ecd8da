"""Staff oversight of promoters' referral and voucher codes."""

from __future__ import annotations

from pydantic import Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from sanic_ext import openapi

from server.auth import ROLES_BACKOFFICE, ROLES_STAFF, requires
from server.http import Query, parse_query, render
from server.services.sharing import codes as share_codes

bp = Blueprint("admin_share")


class CodeFilter(Query):
    promoter_id: int | None = Field(default=None, ge=1)
    q: str | None = Field(default=None, min_length=1, max_length=32)
    cursor: int | None = Field(default=None, ge=0)
    limit: int = Field(default=50, ge=1, le=100)


@bp.get("/programs/<program_id:int>/codes")
@openapi.definition(summary="List a program's codes and aliases", secured={"bearer": []})
@requires(*ROLES_BACKOFFICE)
async def list_codes(request: Request, program_id: int) -> HTTPResponse:
    query = parse_query(request, CodeFilter)
    codes = await share_codes.list_program_codes(
        program_id=program_id,
        promoter_id=query.promoter_id,
        q=query.q,
        cursor=query.cursor,
        limit=query.limit,
    )
    items = [share_codes.serialize_code_for_staff(c) for c in codes]
    return render({"items": items, "next_cursor": items[-1]["id"] if items else None})


@bp.post("/codes/<code_id:int>/deactivate")
@openapi.definition(summary="Deactivate a code and its aliases (audited)", secured={"bearer": []})
@requires(*ROLES_STAFF)
async def deactivate_code(request: Request, code_id: int) -> HTTPResponse:
    code = await share_codes.deactivate_code_by_staff(
        code_id=code_id, actor=request.ctx.principal, request_id=request.ctx.request_id
    )
    return render(share_codes.serialize_code_for_staff(code))
