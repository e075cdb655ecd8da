"""Tools that help promoters sell: poster templates (upload, preview), the materials library
and announcements of the chosen program."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, raw

from admin_api.console.guard import console_route
from admin_api.console.labels import N_
from admin_api.console.pages.common import chosen_program, done, form_text
from admin_api.console.views import page
from server.auth import ROLES_BACKOFFICE, ROLES_STAFF
from server.domain.errors import ValidationFailed
from server.http import Query, validate_body
from server.services.programs import settings as program_service
from server.services.promotion import announcements as announcement_service
from server.services.promotion import materials as material_service
from server.services.promotion import posters as poster_service

bp = Blueprint("console_promotion")

MATERIAL_STATUS = {
    "draft": N_("Draft"),
    "published": N_("Published"),
    "unpublished": N_("Unpublished"),
}
MATERIAL_KINDS = {"image": N_("Image"), "copy": N_("Copy text"), "product": N_("Product link")}
ANNOUNCEMENT_STATUS = {
    "draft": N_("Draft"),
    "published": N_("Published"),
    "archived": N_("Archived"),
}
ACTIONS = {
    "publish": N_("Publish"),
    "unpublish": N_("Unpublish"),
    "archive": N_("Archive"),
}
LABELS = {
    "material_status": MATERIAL_STATUS,
    "material_kinds": MATERIAL_KINDS,
    "announcement_status": ANNOUNCEMENT_STATUS,
    "promotion_actions": ACTIONS,
}


class LayoutForm(Query):
    """The layout fields of a template form (text, coerced to numbers)."""

    qr_x: int = Field(ge=0, le=4000)
    qr_y: int = Field(ge=0, le=4000)
    qr_size: int = Field(ge=1, le=4000)
    name_x: int = Field(ge=0, le=4000)
    name_y: int = Field(ge=0, le=4000)
    font_size: int = Field(ge=1, le=200)
    font_colour: str = Field(max_length=7)


def _uploaded(request: Request, name: str = "image") -> bytes | None:
    upload = request.files.get(name) if request.files else None
    return bytes(upload.body) if upload is not None and upload.body else None


def _layout(request: Request) -> dict[str, Any]:
    sent = request.form or {}
    return validate_body({k: sent.get(k) for k in LayoutForm.model_fields}, LayoutForm).model_dump()


async def _program_id(request: Request) -> int:
    raw_id = ((request.form or {}).get("program_id") or "").strip()
    if not raw_id.isdigit():
        raise ValidationFailed(
            "choose a program", code="validation_failed", fields={"program_id": ""}
        )
    return (await program_service.get_program(program_id=int(raw_id))).id


async def _program_page(
    request: Request, template: str, fetch: Callable[[int], Awaitable[dict[str, Any]]]
) -> HTTPResponse:
    """A page of the chosen program's records (the first hundred) and the form to add one."""
    program, programs = await chosen_program(request)
    return await page(
        request,
        template,
        program=program,
        programs=programs,
        result=await fetch(program.id),
        promotion=LABELS,
    )


@bp.get("/posters")
@console_route(*ROLES_BACKOFFICE)
async def poster_templates(request: Request) -> HTTPResponse:
    return await _program_page(
        request,
        "promotion/posters.html",
        lambda program_id: poster_service.list_poster_templates(program_id=program_id, limit=100),
    )


@bp.post("/posters")
@console_route(*ROLES_STAFF)
async def upload_poster_template(request: Request) -> HTTPResponse:
    template = await poster_service.create_poster_template(
        program_id=await _program_id(request),
        name=form_text(request, "name", max_length=128) or "",
        image=_uploaded(request) or b"",
        layout=_layout(request),
        actor=request.ctx.principal,
        settings=request.app.ctx.settings,
        request_id=request.ctx.request_id,
    )
    return done(f"/console/posters/{template.id}")


@bp.get("/posters/<template_id:int>")
@console_route(*ROLES_BACKOFFICE)
async def poster_template(request: Request, template_id: int) -> HTTPResponse:
    template = await poster_service.get_poster_template(template_id=template_id)
    program = await program_service.get_program(program_id=template.program_id)  # type: ignore[attr-defined]
    return await page(
        request,
        "promotion/poster.html",
        program=program,
        poster=poster_service.serialize_template(template),
    )


@bp.post("/posters/<template_id:int>")
@console_route(*ROLES_STAFF)
async def change_poster_template(request: Request, template_id: int) -> HTTPResponse:
    enabled = (request.form or {}).get("enabled")
    await poster_service.update_poster_template(
        template_id=template_id,
        changes={
            "name": form_text(request, "name", max_length=128),
            "layout": _layout(request),
            "enabled": None if enabled is None else enabled == "1",
        },
        image=_uploaded(request),
        actor=request.ctx.principal,
        settings=request.app.ctx.settings,
        request_id=request.ctx.request_id,
    )
    return done(f"/console/posters/{template_id}")


@bp.get("/posters/<template_id:int>/preview.png")
@console_route(*ROLES_BACKOFFICE)
async def poster_preview(request: Request, template_id: int) -> HTTPResponse:
    picture = await poster_service.template_preview(
        template_id=template_id, settings=request.app.ctx.settings
    )
    return raw(picture.content, content_type="image/png", headers={"cache-control": "no-store"})


@bp.get("/materials")
@console_route(*ROLES_BACKOFFICE)
async def materials(request: Request) -> HTTPResponse:
    return await _program_page(
        request,
        "promotion/materials.html",
        lambda program_id: material_service.list_materials(program_id=program_id, limit=100),
    )


@bp.post("/materials")
@console_route(*ROLES_STAFF)
async def add_material(request: Request) -> HTTPResponse:
    program_id = await _program_id(request)
    await material_service.create_material(
        program_id=program_id,
        document={
            "kind": form_text(request, "kind", max_length=16),
            "title": form_text(request, "title", max_length=128),
            "copy_text": form_text(request, "copy_text", max_length=2000) or "",
            "destination": form_text(request, "destination", max_length=256),
            "position": (form_text(request, "position", max_length=7) or "0"),
        },
        image=_uploaded(request),
        actor=request.ctx.principal,
        settings=request.app.ctx.settings,
        request_id=request.ctx.request_id,
    )
    return done(f"/console/materials?program_id={program_id}")


@bp.post("/materials/<material_id:int>/<action:str>")
@console_route(*ROLES_STAFF)
async def change_material(request: Request, material_id: int, action: str) -> HTTPResponse:
    material = await material_service.change_material_status(
        material_id=material_id,
        action=action,
        actor=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    return done(f"/console/materials?program_id={material.program_id}")  # type: ignore[attr-defined]


@bp.get("/announcements")
@console_route(*ROLES_BACKOFFICE)
async def announcements(request: Request) -> HTTPResponse:
    return await _program_page(
        request,
        "promotion/announcements.html",
        lambda program_id: announcement_service.list_announcements(
            program_id=program_id, limit=100
        ),
    )


@bp.post("/announcements")
@console_route(*ROLES_STAFF)
async def draft_announcement(request: Request) -> HTTPResponse:
    program_id = await _program_id(request)
    await announcement_service.create_announcement(
        program_id=program_id,
        title=form_text(request, "title", max_length=128) or "",
        body=form_text(request, "body", max_length=5000) or "",
        notify=(request.form or {}).get("notify") == "1",
        actor=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    return done(f"/console/announcements?program_id={program_id}")


@bp.post("/announcements/<announcement_id:int>/<action:str>")
@console_route(*ROLES_STAFF)
async def change_announcement(request: Request, announcement_id: int, action: str) -> HTTPResponse:
    announcement = await announcement_service.change_announcement_status(
        announcement_id=announcement_id,
        action=action,
        actor=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    return done(f"/console/announcements?program_id={announcement.program_id}")  # type: ignore[attr-defined]
