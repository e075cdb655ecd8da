"""Poster templates of a program: staff upload a background (PNG or JPEG, base64) and say
where the QR code and the promoter's name go; the back office previews them."""

from __future__ import annotations

from pydantic import Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, raw
from sanic_ext import openapi

from server.auth import ROLES_BACKOFFICE, ROLES_STAFF, requires
from server.domain.promotion.posters import MAX_FONT_SIZE, decode_image_base64
from server.http import MAX_PAGE_SIZE, Body, Query, parse_body, parse_query, render
from server.idempotent import create_once, render_created
from server.services.promotion import posters as poster_service

bp = Blueprint("admin_posters")

# Base64 of the largest image accepted (5 MiB), with room for a data: URL prefix.
MAX_BASE64_LENGTH = 7_000_100
IMAGE_CACHE_CONTROL = "private, no-cache"


class PosterLayoutBody(Body):
    qr_x: int = Field(ge=0, le=4000, description="the QR code's left edge, in pixels")
    qr_y: int = Field(ge=0, le=4000, description="the QR code's top edge")
    qr_size: int = Field(ge=1, le=4000, description="the QR code's side (at least 100)")
    name_x: int = Field(ge=0, le=4000, description="where the name starts")
    name_y: int = Field(ge=0, le=4000, description="the name's top")
    font_size: int = Field(default=36, ge=1, le=MAX_FONT_SIZE)
    font_colour: str = Field(default="#000000", max_length=7, description="#RRGGBB")


class LayoutPatch(Body):
    qr_x: int | None = Field(default=None, ge=0, le=4000)
    qr_y: int | None = Field(default=None, ge=0, le=4000)
    qr_size: int | None = Field(default=None, ge=1, le=4000)
    name_x: int | None = Field(default=None, ge=0, le=4000)
    name_y: int | None = Field(default=None, ge=0, le=4000)
    font_size: int | None = Field(default=None, ge=1, le=MAX_FONT_SIZE)
    font_colour: str | None = Field(default=None, max_length=7)


class PosterTemplateCreate(Body):
    name: str = Field(min_length=1, max_length=128)
    image_base64: str = Field(
        min_length=1, max_length=MAX_BASE64_LENGTH, description="PNG or JPEG, at most 5 MiB"
    )
    layout: PosterLayoutBody


class PosterTemplatePatch(Body):
    """A new image or layout makes a new version: every poster is rendered again."""

    name: str | None = Field(default=None, min_length=1, max_length=128)
    image_base64: str | None = Field(default=None, min_length=1, max_length=MAX_BASE64_LENGTH)
    layout: LayoutPatch | None = None
    enabled: bool | None = None


class ListQuery(Query):
    enabled: bool | None = None
    cursor: int | None = Field(default=None, ge=1)
    limit: int = Field(default=50, ge=1, le=MAX_PAGE_SIZE)


def image_response(content: bytes, content_type: str) -> HTTPResponse:
    return raw(content, content_type=content_type, headers={"cache-control": IMAGE_CACHE_CONTROL})


@bp.get("/programs/<program_id:int>/poster-templates")
@openapi.definition(summary="A program's poster templates, in id order", secured={"bearer": []})
@requires(*ROLES_BACKOFFICE)
async def list_poster_templates(request: Request, program_id: int) -> HTTPResponse:
    query = parse_query(request, ListQuery)
    return render(
        await poster_service.list_poster_templates(
            program_id=program_id, enabled=query.enabled, cursor=query.cursor, limit=query.limit
        )
    )


@bp.post("/programs/<program_id:int>/poster-templates")
@openapi.definition(
    summary="Upload a poster template (its type is read from the bytes, not trusted)",
    body=PosterTemplateCreate,
    secured={"bearer": []},
)
@requires(*ROLES_STAFF)
async def create_poster_template(request: Request, program_id: int) -> HTTPResponse:
    body = parse_body(request, PosterTemplateCreate)
    template, replayed = await create_once(
        request,
        lambda: poster_service.create_poster_template(
            program_id=program_id,
            name=body.name,
            image=decode_image_base64(body.image_base64),
            layout=body.layout.model_dump(),
            actor=request.ctx.principal,
            settings=request.app.ctx.settings,
            request_id=request.ctx.request_id,
        ),
        replay=lambda template_id: poster_service.get_poster_template(template_id=template_id),
        body=body,
    )
    return render_created(poster_service.serialize_template(template), replayed=replayed)


@bp.get("/poster-templates/<template_id:int>")
@openapi.definition(summary="One poster template", secured={"bearer": []})
@requires(*ROLES_BACKOFFICE)
async def get_poster_template(request: Request, template_id: int) -> HTTPResponse:
    template = await poster_service.get_poster_template(template_id=template_id)
    return render(poster_service.serialize_template(template))


@bp.patch("/poster-templates/<template_id:int>")
@openapi.definition(
    summary="Change a poster template (name, image, layout, enabled)",
    body=PosterTemplatePatch,
    secured={"bearer": []},
)
@requires(*ROLES_STAFF)
async def update_poster_template(request: Request, template_id: int) -> HTTPResponse:
    body = parse_body(request, PosterTemplatePatch)
    changes = body.model_dump(exclude_unset=True, exclude={"image_base64"})
    image = decode_image_base64(body.image_base64) if body.image_base64 else None
    template = await poster_service.update_poster_template(
        template_id=template_id,
        changes=changes,
        image=image,
        actor=request.ctx.principal,
        settings=request.app.ctx.settings,
        request_id=request.ctx.request_id,
    )
    return render(poster_service.serialize_template(template))


@bp.get("/poster-templates/<template_id:int>/image")
@openapi.definition(summary="A poster template's uploaded background", secured={"bearer": []})
@requires(*ROLES_BACKOFFICE)
async def poster_template_image(request: Request, template_id: int) -> HTTPResponse:
    content, content_type = await poster_service.template_image(
        template_id=template_id, settings=request.app.ctx.settings
    )
    return image_response(content, content_type)


@bp.get("/poster-templates/<template_id:int>/preview.png")
@openapi.definition(
    summary="A poster template rendered with a sample name and QR code", secured={"bearer": []}
)
@requires(*ROLES_BACKOFFICE)
async def poster_template_preview(request: Request, template_id: int) -> HTTPResponse:
    picture = await poster_service.template_preview(
        template_id=template_id, settings=request.app.ctx.settings
    )
    return image_response(picture.content, "image/png")
