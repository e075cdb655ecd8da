"""Promoter pages: the list with the API's filters and keyset pages."""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from admin_api.console.guard import console_route
from admin_api.console.pages.common import chosen_program, filters
from admin_api.console.views import page
from admin_api.promoters import PromotersQuery, promoters_page
from server.auth import ROLES_BACKOFFICE

bp = Blueprint("console_promoters")


@bp.get("/promoters")
@console_route(*ROLES_BACKOFFICE)
async def promoter_list(request: Request) -> HTTPResponse:
    program, programs = await chosen_program(request)
    query = filters(request, PromotersQuery, program_id=program.id)
    result = await promoters_page(query, viewer=request.ctx.principal)
    more = bool(query.cursor and request.headers.get("hx-request"))
    template = "promoters/_rows.html" if more else "promoters/list.html"
    return await page(
        request, template, program=program, programs=programs, query=query, result=result
    )
