"""Staff view of the promoter tree: uplines, teams by level, and audited subtree moves."""

from __future__ import annotations

from pydantic import Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from sanic_ext import openapi

from server.auth import ROLES_BACKOFFICE, ROLES_STAFF, requires
from server.http import MAX_PAGE_SIZE, Body, Query, parse_body, parse_query, render
from server.services.promoters import hierarchy
from server.services.promoters import team as team_service

bp = Blueprint("admin_hierarchy")


class TeamQuery(Query):
    # Without a depth the page walks the whole team, all levels together.
    depth: int | None = Field(default=None, ge=1)
    cursor: int | None = Field(default=None, ge=1)
    limit: int = Field(default=20, ge=1, le=MAX_PAGE_SIZE)


class MoveBody(Body):
    # Required but nullable: null makes the promoter the root of a tree of its own.
    new_parent_id: int | None = Field(ge=1)
    reason: str = Field(min_length=1, max_length=512)


@bp.get("/promoters/<promoter_id:int>/upline")
@openapi.definition(summary="A promoter's upline chain, nearest first", secured={"bearer": []})
@requires(*ROLES_BACKOFFICE)
async def upline(request: Request, promoter_id: int) -> HTTPResponse:
    return render(await team_service.upline_view(promoter_id=promoter_id))


@bp.get("/promoters/<promoter_id:int>/team")
@openapi.definition(
    summary="A promoter's team: counts per level and a page of members", secured={"bearer": []}
)
@requires(*ROLES_BACKOFFICE)
async def team(request: Request, promoter_id: int) -> HTTPResponse:
    query = parse_query(request, TeamQuery)
    page = await team_service.team_view(
        promoter_id=promoter_id, depth=query.depth, cursor=query.cursor, limit=query.limit
    )
    return render(page)


@bp.post("/promoters/<promoter_id:int>/move")
@openapi.definition(
    summary="Move a promoter and its whole team under another upline",
    body=MoveBody,
    secured={"bearer": []},
)
@requires(*ROLES_STAFF, body={"new_parent_id": "promoter"})
async def move(request: Request, promoter_id: int) -> HTTPResponse:
    body = parse_body(request, MoveBody)
    moved = await hierarchy.move_subtree(
        promoter_id=promoter_id,
        new_parent_id=body.new_parent_id,
        reason=body.reason,
        actor=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    return render(team_service.serialize_move(moved))
