"""Customer ↔ promoter bindings of a program, with their history, for staff and finance."""

from __future__ import annotations

from pydantic import Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from sanic_ext import openapi

from server.auth import ROLES_BACKOFFICE, requires
from server.http import MAX_PAGE_SIZE, Query, parse_query, render
from server.services.sharing import binding_queries

bp = Blueprint("admin_bindings")


class BindingFilter(Query):
    customer_user_id: int | None = Field(default=None, ge=1)
    customer_external_id: str | None = Field(default=None, min_length=1, max_length=128)
    promoter_id: int | None = Field(default=None, ge=1)
    cursor: int | None = Field(default=None, ge=1)
    limit: int = Field(default=50, ge=1, le=MAX_PAGE_SIZE)


@bp.get("/programs/<program_id:int>/bindings")
@openapi.definition(
    summary="Bindings of a program, ended ones included, newest first", secured={"bearer": []}
)
@requires(*ROLES_BACKOFFICE)
async def list_bindings(request: Request, program_id: int) -> HTTPResponse:
    query = parse_query(request, BindingFilter)
    page = await binding_queries.list_bindings(
        program_id=program_id,
        customer_user_id=query.customer_user_id,
        customer_external_id=query.customer_external_id,
        promoter_id=query.promoter_id,
        cursor=query.cursor,
        limit=query.limit,
    )
    return render(page)
