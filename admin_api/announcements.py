"""Program announcements: staff draft, publish (optionally with a subscribe message to the
promoters who consented to one) and archive them."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from sanic_ext import openapi

from server.auth import ROLES_BACKOFFICE, ROLES_STAFF, requires
from server.domain.promotion.announcements import MAX_BODY_LENGTH, MAX_TITLE_LENGTH
from server.http import MAX_PAGE_SIZE, Body, Query, parse_body, parse_query, render
from server.idempotent import create_once, render_created
from server.services.promotion import announcements as announcement_service

bp = Blueprint("admin_announcements")


class AnnouncementPatch(Body):
    title: str | None = Field(default=None, min_length=1, max_length=MAX_TITLE_LENGTH)
    body: str | None = Field(default=None, min_length=1, max_length=MAX_BODY_LENGTH)
    notify: bool | None = Field(
        default=None, description="on publishing, message the promoters who subscribed"
    )


class AnnouncementCreate(Body):
    title: str = Field(min_length=1, max_length=MAX_TITLE_LENGTH)
    body: str = Field(min_length=1, max_length=MAX_BODY_LENGTH)
    notify: bool = False


class ListQuery(Query):
    status: Literal["draft", "published", "archived"] | None = None
    cursor: int | None = Field(default=None, ge=1)
    limit: int = Field(default=50, ge=1, le=MAX_PAGE_SIZE)


@bp.get("/programs/<program_id:int>/announcements")
@openapi.definition(summary="A program's announcements, newest first", secured={"bearer": []})
@requires(*ROLES_BACKOFFICE)
async def list_announcements(request: Request, program_id: int) -> HTTPResponse:
    query = parse_query(request, ListQuery)
    return render(
        await announcement_service.list_announcements(
            program_id=program_id, status=query.status, cursor=query.cursor, limit=query.limit
        )
    )


@bp.post("/programs/<program_id:int>/announcements")
@openapi.definition(
    summary="Draft an announcement", body=AnnouncementCreate, secured={"bearer": []}
)
@requires(*ROLES_STAFF)
async def create_announcement(request: Request, program_id: int) -> HTTPResponse:
    body = parse_body(request, AnnouncementCreate)
    announcement, replayed = await create_once(
        request,
        lambda: announcement_service.create_announcement(
            program_id=program_id,
            title=body.title,
            body=body.body,
            notify=body.notify,
            actor=request.ctx.principal,
            request_id=request.ctx.request_id,
        ),
        replay=lambda announcement_id: announcement_service.get_announcement(
            announcement_id=announcement_id
        ),
        body=body,
    )
    return render_created(
        announcement_service.serialize_announcement(announcement), replayed=replayed
    )


@bp.get("/announcements/<announcement_id:int>")
@openapi.definition(summary="One announcement", secured={"bearer": []})
@requires(*ROLES_BACKOFFICE)
async def get_announcement(request: Request, announcement_id: int) -> HTTPResponse:
    announcement = await announcement_service.get_announcement(announcement_id=announcement_id)
    return render(announcement_service.serialize_announcement(announcement))


@bp.patch("/announcements/<announcement_id:int>")
@openapi.definition(
    summary="Change a draft announcement", body=AnnouncementPatch, secured={"bearer": []}
)
@requires(*ROLES_STAFF)
async def update_announcement(request: Request, announcement_id: int) -> HTTPResponse:
    body = parse_body(request, AnnouncementPatch)
    announcement = await announcement_service.update_announcement(
        announcement_id=announcement_id,
        changes=body.model_dump(exclude_unset=True),
        actor=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    return render(announcement_service.serialize_announcement(announcement))


async def _change(request: Request, announcement_id: int, action: str) -> HTTPResponse:
    announcement = await announcement_service.change_announcement_status(
        announcement_id=announcement_id,
        action=action,
        actor=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    return render(announcement_service.serialize_announcement(announcement))


@bp.post("/announcements/<announcement_id:int>/publish")
@openapi.definition(
    summary="Publish a draft (queues subscribe messages when it says notify)",
    secured={"bearer": []},
)
@requires(*ROLES_STAFF)
async def publish_announcement(request: Request, announcement_id: int) -> HTTPResponse:
    return await _change(request, announcement_id, "publish")


@bp.post("/announcements/<announcement_id:int>/archive")
@openapi.definition(summary="Archive an announcement", secured={"bearer": []})
@requires(*ROLES_STAFF)
async def archive_announcement(request: Request, announcement_id: int) -> HTTPResponse:
    return await _change(request, announcement_id, "archive")
