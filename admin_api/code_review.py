"""Staff review of the code texts promoters choose, and the store's reserved codes as staff
see them."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from sanic_ext import openapi

from server.auth import ROLES_BACKOFFICE, ROLES_STAFF, requires
from server.domain.pagination import page_body
from server.http import Body, Query, parse_body, parse_query, render
from server.services.sharing import code_review, reserved_codes
from server.services.sharing import codes as share_codes

bp = Blueprint("admin_code_review")


class ReviewFilter(Query):
    status: Literal["pending", "approved", "rejected"] = "pending"
    cursor: int | None = Field(default=None, ge=0)
    limit: int = Field(default=50, ge=1, le=100)


class Rejection(Body):
    reason: str = Field(min_length=1, max_length=512)


class ReservedFilter(Query):
    q: str | None = Field(default=None, min_length=1, max_length=64)
    cursor: int | None = Field(default=None, ge=0)
    limit: int = Field(default=50, ge=1, le=100)


@bp.get("/programs/<program_id:int>/code-review")
@openapi.definition(
    summary="Codes and aliases promoters chose, by review state (pending first to decide)",
    secured={"bearer": []},
)
@requires(*ROLES_BACKOFFICE)
async def list_codes_for_review(request: Request, program_id: int) -> HTTPResponse:
    query = parse_query(request, ReviewFilter)
    codes = await code_review.list_codes_for_review(
        program_id=program_id, status=query.status, cursor=query.cursor, limit=query.limit
    )
    return render(page_body([share_codes.serialize_code_for_staff(c) for c in codes], query.limit))


@bp.post("/codes/<code_id:int>/approve")
@openapi.definition(
    summary="Approve a pending code: it credits its promoter from now on (audited)",
    secured={"bearer": []},
)
@requires(*ROLES_STAFF)
async def approve_code(request: Request, code_id: int) -> HTTPResponse:
    code = await code_review.approve_code(
        code_id=code_id, actor=request.ctx.principal, request_id=request.ctx.request_id
    )
    return render(share_codes.serialize_code_for_staff(code))


@bp.post("/codes/<code_id:int>/reject")
@openapi.definition(
    summary="Reject a pending code with a reason: deactivated for good (audited)",
    body=Rejection,
    secured={"bearer": []},
)
@requires(*ROLES_STAFF)
async def reject_code(request: Request, code_id: int) -> HTTPResponse:
    body = parse_body(request, Rejection)
    code = await code_review.reject_code(
        code_id=code_id,
        actor=request.ctx.principal,
        reason=body.reason,
        request_id=request.ctx.request_id,
    )
    return render(share_codes.serialize_code_for_staff(code))


@bp.get("/programs/<program_id:int>/reserved-codes")
@openapi.definition(summary="The store's reserved coupon codes", secured={"bearer": []})
@requires(*ROLES_BACKOFFICE)
async def list_reserved_codes(request: Request, program_id: int) -> HTTPResponse:
    query = parse_query(request, ReservedFilter)
    codes = await reserved_codes.list_reserved_codes(
        program_id=program_id, q=query.q, cursor=query.cursor, limit=query.limit
    )
    return render(
        page_body([reserved_codes.serialize_reserved_code(c) for c in codes], query.limit)
    )
