"""The materials library of a program: staff add images, copy and product links, order
them, and publish or unpublish each."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from sanic_ext import openapi

from admin_api.posters import MAX_BASE64_LENGTH, image_response
from server.auth import ROLES_BACKOFFICE, ROLES_STAFF, requires
from server.domain.promotion.materials import MAX_COPY_LENGTH
from server.domain.promotion.posters import decode_image_base64
from server.http import MAX_PAGE_SIZE, Body, Query, parse_body, parse_query, render
from server.idempotent import create_once, render_created
from server.services.promotion import materials as material_service

bp = Blueprint("admin_materials")


class MaterialPatch(Body):
    title: str | None = Field(default=None, min_length=1, max_length=128)
    copy_text: str | None = Field(
        default=None,
        max_length=MAX_COPY_LENGTH,
        description="may hold {link}, {mp_path}, {code} and {name}, filled in per promoter",
    )
    destination: str | None = Field(
        default=None, max_length=256, description="a mini-program page: pages/product/detail?id=42"
    )
    position: int | None = Field(default=None, ge=0, le=1_000_000, description="lower first")
    image_base64: str | None = Field(default=None, min_length=1, max_length=MAX_BASE64_LENGTH)


class MaterialCreate(MaterialPatch):
    kind: Literal["image", "copy", "product"]
    title: str = Field(min_length=1, max_length=128)  # type: ignore[assignment]


class ListQuery(Query):
    status: Literal["draft", "published", "unpublished"] | None = None
    offset: int = Field(default=0, ge=0, le=1_000_000)
    limit: int = Field(default=50, ge=1, le=MAX_PAGE_SIZE)


@bp.get("/programs/<program_id:int>/materials")
@openapi.definition(summary="A program's materials in display order", secured={"bearer": []})
@requires(*ROLES_BACKOFFICE)
async def list_materials(request: Request, program_id: int) -> HTTPResponse:
    query = parse_query(request, ListQuery)
    return render(
        await material_service.list_materials(
            program_id=program_id, status=query.status, offset=query.offset, limit=query.limit
        )
    )


@bp.post("/programs/<program_id:int>/materials")
@openapi.definition(summary="Add a draft material", body=MaterialCreate, secured={"bearer": []})
@requires(*ROLES_STAFF)
async def create_material(request: Request, program_id: int) -> HTTPResponse:
    body = parse_body(request, MaterialCreate)
    image = decode_image_base64(body.image_base64) if body.image_base64 else None
    material, replayed = await create_once(
        request,
        lambda: material_service.create_material(
            program_id=program_id,
            document=body.model_dump(exclude={"image_base64"}),
            image=image,
            actor=request.ctx.principal,
            settings=request.app.ctx.settings,
            request_id=request.ctx.request_id,
        ),
        replay=lambda material_id: material_service.get_material(material_id=material_id),
        body=body,
    )
    return render_created(material_service.serialize_material(material), replayed=replayed)


@bp.get("/materials/<material_id:int>")
@openapi.definition(summary="One material", secured={"bearer": []})
@requires(*ROLES_BACKOFFICE)
async def get_material(request: Request, material_id: int) -> HTTPResponse:
    material = await material_service.get_material(material_id=material_id)
    return render(material_service.serialize_material(material))


@bp.patch("/materials/<material_id:int>")
@openapi.definition(summary="Change a material", body=MaterialPatch, secured={"bearer": []})
@requires(*ROLES_STAFF)
async def update_material(request: Request, material_id: int) -> HTTPResponse:
    body = parse_body(request, MaterialPatch)
    image = decode_image_base64(body.image_base64) if body.image_base64 else None
    material = await material_service.update_material(
        material_id=material_id,
        changes=body.model_dump(exclude_unset=True, exclude={"image_base64"}),
        image=image,
        actor=request.ctx.principal,
        settings=request.app.ctx.settings,
        request_id=request.ctx.request_id,
    )
    return render(material_service.serialize_material(material))


async def _change(request: Request, material_id: int, action: str) -> HTTPResponse:
    material = await material_service.change_material_status(
        material_id=material_id,
        action=action,
        actor=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    return render(material_service.serialize_material(material))


@bp.post("/materials/<material_id:int>/publish")
@openapi.definition(summary="Publish a material to the program's promoters", secured={"bearer": []})
@requires(*ROLES_STAFF)
async def publish_material(request: Request, material_id: int) -> HTTPResponse:
    return await _change(request, material_id, "publish")


@bp.post("/materials/<material_id:int>/unpublish")
@openapi.definition(summary="Take a material back from promoters", secured={"bearer": []})
@requires(*ROLES_STAFF)
async def unpublish_material(request: Request, material_id: int) -> HTTPResponse:
    return await _change(request, material_id, "unpublish")


@bp.get("/materials/<material_id:int>/image")
@openapi.definition(summary="A material's image", secured={"bearer": []})
@requires(*ROLES_BACKOFFICE)
async def material_image(request: Request, material_id: int) -> HTTPResponse:
    content, content_type = await material_service.material_image(
        material_id=material_id, settings=request.app.ctx.settings
    )
    return image_response(content, content_type)
