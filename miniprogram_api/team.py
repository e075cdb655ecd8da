"""A promoter's own team: members per level, and each level's members (anonymized)."""

from __future__ import annotations

from pydantic import Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from sanic_ext import openapi

from server.auth import ROLES_PROMOTER, requires
from server.http import MAX_PAGE_SIZE, Query, parse_query, render
from server.services.promoters import team as team_service

bp = Blueprint("mp_team")


class TeamLevelQuery(Query):
    cursor: int | None = Field(default=None, ge=1)
    limit: int = Field(default=20, ge=1, le=MAX_PAGE_SIZE)


@bp.get("/programs/<program_id:int>/team")
@openapi.definition(
    summary="My team in a program: members per level and in total", secured={"bearer": []}
)
@requires(*ROLES_PROMOTER)
async def my_team(request: Request, program_id: int) -> HTTPResponse:
    summary = await team_service.my_team_summary(
        user_id=request.ctx.principal.id, program_id=program_id
    )
    return render(summary)


@bp.get("/programs/<program_id:int>/team/levels/<depth:int>")
@openapi.definition(
    summary="My team members at one level, newest first (anonymized)", secured={"bearer": []}
)
@requires(*ROLES_PROMOTER)
async def my_team_level(request: Request, program_id: int, depth: int) -> HTTPResponse:
    query = parse_query(request, TeamLevelQuery)
    page = await team_service.my_team_level(
        user_id=request.ctx.principal.id,
        program_id=program_id,
        depth=depth,
        cursor=query.cursor,
        limit=query.limit,
    )
    return render(page)
