"""What helps a promoter sell: their share posters, the materials library, the program's
announcements, and their action items."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, raw
from sanic_ext import openapi

from miniprogram_api.share import _user_id, response_png
from server.auth import ROLES_PROMOTER, requires
from server.http import Query, parse_query, render
from server.services.promotion import action_items as action_service
from server.services.promotion import announcements as announcement_service
from server.services.promotion import materials as material_service
from server.services.promotion import posters as poster_service

bp = Blueprint("mp_promotion")


class PosterQuery(Query):
    link_id: int = Field(ge=1, description="one of my share links")
    kind: Literal["wxacode", "png"] = Field(
        default="wxacode", description="a mini-program code, or a QR of the H5 link"
    )


class MaterialPage(Query):
    offset: int = Field(default=0, ge=0, le=1_000_000)
    limit: int = Field(default=20, ge=1, le=100)


class AnnouncementPage(Query):
    cursor: int | None = Field(default=None, ge=1)
    limit: int = Field(default=20, ge=1, le=100)


@bp.get("/programs/<program_id:int>/posters")
@openapi.definition(summary="The program's poster templates", secured={"bearer": []})
@requires(*ROLES_PROMOTER)
async def list_posters(request: Request, program_id: int) -> HTTPResponse:
    return render(
        await poster_service.program_posters(user_id=_user_id(request), program_id=program_id)
    )


@bp.get("/programs/<program_id:int>/posters/<template_id:int>/image")
@openapi.definition(
    summary="My poster: the template with my link's QR code and my name (PNG, cached)",
    secured={"bearer": []},
)
@requires(*ROLES_PROMOTER)
async def my_poster(request: Request, program_id: int, template_id: int) -> HTTPResponse:
    query = parse_query(request, PosterQuery)
    picture = await poster_service.my_poster(
        user_id=_user_id(request),
        program_id=program_id,
        template_id=template_id,
        link_id=query.link_id,
        kind=query.kind,
        wechat=request.app.ctx.wechat,
        settings=request.app.ctx.settings,
    )
    response = response_png(picture.content, etag=picture.sha256)
    response.headers["x-poster-cache"] = "hit" if picture.cached else "miss"
    return response


@bp.get("/programs/<program_id:int>/materials")
@openapi.definition(summary="The program's published materials, in order", secured={"bearer": []})
@requires(*ROLES_PROMOTER)
async def list_materials(request: Request, program_id: int) -> HTTPResponse:
    page = parse_query(request, MaterialPage)
    return render(
        await material_service.promoter_materials(
            user_id=_user_id(request), program_id=program_id, offset=page.offset, limit=page.limit
        )
    )


@bp.get("/programs/<program_id:int>/materials/<material_id:int>/image")
@openapi.definition(summary="A published material's image", secured={"bearer": []})
@requires(*ROLES_PROMOTER)
async def material_image(request: Request, program_id: int, material_id: int) -> HTTPResponse:
    content, content_type = await material_service.material_image(
        material_id=material_id,
        settings=request.app.ctx.settings,
        user_id=_user_id(request),
        program_id=program_id,
    )
    return raw(
        content, content_type=content_type, headers={"cache-control": "private, max-age=3600"}
    )


@bp.post("/programs/<program_id:int>/materials/<material_id:int>/share")
@openapi.definition(
    summary="A material ready to share: my link and code filled into its copy "
    "(the same material always gives the same link)",
    secured={"bearer": []},
)
@requires(*ROLES_PROMOTER)
async def share_material(request: Request, program_id: int, material_id: int) -> HTTPResponse:
    return render(
        await material_service.share_material(
            user_id=_user_id(request),
            program_id=program_id,
            material_id=material_id,
            settings=request.app.ctx.settings,
        )
    )


@bp.get("/programs/<program_id:int>/announcements")
@openapi.definition(
    summary="The program's announcements, newest first, with my unread count",
    secured={"bearer": []},
)
@requires(*ROLES_PROMOTER)
async def list_announcements(request: Request, program_id: int) -> HTTPResponse:
    page = parse_query(request, AnnouncementPage)
    return render(
        await announcement_service.promoter_announcements(
            user_id=_user_id(request), program_id=program_id, cursor=page.cursor, limit=page.limit
        )
    )


@bp.post("/programs/<program_id:int>/announcements/<announcement_id:int>/read")
@openapi.definition(summary="Mark an announcement read (once)", secured={"bearer": []})
@requires(*ROLES_PROMOTER)
async def read_announcement(
    request: Request, program_id: int, announcement_id: int
) -> HTTPResponse:
    return render(
        await announcement_service.read_announcement(
            user_id=_user_id(request), program_id=program_id, announcement_id=announcement_id
        )
    )


@bp.put("/programs/<program_id:int>/announcements/subscription")
@openapi.definition(
    summary="I accepted one announcement message (wx.requestSubscribeMessage)",
    secured={"bearer": []},
)
@requires(*ROLES_PROMOTER)
async def subscribe(request: Request, program_id: int) -> HTTPResponse:
    return render(
        await announcement_service.subscribe_to_announcements(
            user_id=_user_id(request), program_id=program_id
        )
    )


@bp.get("/programs/<program_id:int>/action-items")
@openapi.definition(summary="What I must do next, most blocking first", secured={"bearer": []})
@requires(*ROLES_PROMOTER)
async def action_items(request: Request, program_id: int) -> HTTPResponse:
    return render(
        await action_service.my_action_items(user_id=_user_id(request), program_id=program_id)
    )
