"""The materials library: staff publish images, copy and product links per program, in their
order; a program's promoters browse the published ones and get each ready to share, with
their own link and code filled in."""

from __future__ import annotations

import asyncio
from typing import Any

from tortoise.transactions import in_transaction

from server import clock
from server.auth import Principal
from server.config import Settings
from server.domain.errors import NotFound, ValidationFailed
from server.domain.pagination import check_page_limit
from server.domain.promotion.materials import (
    MATERIAL_LIFECYCLE,
    MAX_COPY_LENGTH,
    MaterialKind,
    MaterialStatus,
    fill_copy,
)
from server.domain.promotion.posters import sniff_image_type
from server.domain.sharing.destinations import parse_destination
from server.integrations.posters import image_size
from server.models import Material, Program, User
from server.services.access.audit import record_action
from server.services.promotion.media import required_file, store_file, upload_path
from server.services.promotion.records import audit_changes, change_status, locked
from server.services.sharing.channels import sharing_promoter
from server.services.sharing.links import create_link, serialize_link

MAX_POSITION = 1_000_000
FIELDS = ("kind", "title", "copy_text", "destination", "position")


def material_not_found() -> NotFound:
    return NotFound("no such material", code="material_not_found")


def serialize_material(material: Material) -> dict[str, Any]:
    return {
        "id": material.id,
        "program_id": material.program_id,  # type: ignore[attr-defined]
        "kind": material.kind,
        "title": material.title,
        "copy_text": material.copy_text,
        "destination": material.destination,
        "has_image": material.image_path is not None,
        "position": material.position,
        "status": material.status,
        "actions": MATERIAL_LIFECYCLE.allowed_actions(MaterialStatus(material.status)),
        "published_at": material.published_at,
        "created_at": material.created_at,
        "updated_at": material.updated_at,
    }


def _checked(document: dict[str, Any], *, has_image: bool) -> dict[str, Any]:
    """The material's fields once every rule holds, or a 422 naming each broken one."""
    errors: dict[str, str] = {}
    kind = document.get("kind")
    if kind not in set(MaterialKind):
        errors["kind"] = "image, copy or product"
    title = (document.get("title") or "").strip()
    if not 1 <= len(title) <= 128:
        errors["title"] = "1 to 128 characters"
    copy_text = document.get("copy_text") or ""
    if len(copy_text) > MAX_COPY_LENGTH:
        errors["copy_text"] = f"at most {MAX_COPY_LENGTH} characters"
    destination = document.get("destination")
    if destination:
        try:
            destination = str(parse_destination(destination))
        except ValidationFailed as exc:
            errors["destination"] = str(exc.fields.get("destination", "invalid"))
    if kind == MaterialKind.PRODUCT and not destination:
        errors["destination"] = "a product material names its mini-program page"
    if kind == MaterialKind.IMAGE and not has_image:
        errors["image"] = "an image material needs an image"
    if kind == MaterialKind.COPY and not copy_text.strip():
        errors["copy_text"] = "a copy material needs its text"
    position = str(document.get("position") or 0)
    if not position.isdigit() or int(position) > MAX_POSITION:
        errors["position"] = f"0..{MAX_POSITION}"
    if errors:
        raise ValidationFailed("the material is not valid", code="invalid_material", fields=errors)
    return {
        "kind": kind,
        "title": title,
        "copy_text": copy_text,
        "destination": destination or None,
        "position": int(position),
    }


async def _stored_image(image: bytes, settings: Settings) -> tuple[str, str]:
    content_type = sniff_image_type(image)
    await asyncio.to_thread(image_size, image)
    relative = upload_path(folder="materials", content=image, content_type=content_type)
    await store_file(settings=settings, relative=relative, content=image)
    return relative, content_type


async def create_material(
    *,
    program_id: int,
    document: dict[str, Any],
    image: bytes | None,
    actor: Principal,
    settings: Settings,
    request_id: str | None = None,
) -> Material:
    """A new draft material of the program."""
    if not await Program.exists(id=program_id):
        raise NotFound("no such program", code="program_not_found")
    fields = _checked(document, has_image=image is not None)
    stored = await _stored_image(image, settings) if image is not None else (None, None)
    async with in_transaction() as conn:
        material = await Material.create(
            program_id=program_id,
            image_path=stored[0],
            image_type=stored[1],
            status=MaterialStatus.DRAFT.value,
            using_db=conn,
            **fields,
        )
        await record_action(
            actor=actor,
            action="material.create",
            target_kind="material",
            target_id=material.id,
            program_id=program_id,
            details={"kind": material.kind, "title": material.title},
            request_id=request_id,
            using_db=conn,
        )
    return material


async def update_material(
    *,
    material_id: int,
    changes: dict[str, Any],
    image: bytes | None,
    actor: Principal,
    settings: Settings,
    request_id: str | None = None,
) -> Material:
    """Change a material's fields or image (published ones change in place)."""
    current = await get_material(material_id=material_id)
    merged = {**{f: getattr(current, f) for f in FIELDS}, **changes}
    fields = _checked(merged, has_image=image is not None or current.image_path is not None)
    stored = await _stored_image(image, settings) if image is not None else None
    async with in_transaction() as conn:
        material = await locked(Material, material_id, conn, material_not_found)
        before = serialize_material(material)
        material.update_from_dict(fields)
        if stored is not None:
            material.image_path, material.image_type = stored
        await material.save(using_db=conn)
        await audit_changes(
            conn=conn,
            actor=actor,
            action="material.update",
            record=material,
            before=before,
            after=serialize_material(material),
            keys=(*FIELDS, "has_image"),
            request_id=request_id,
        )
    return material


def _stamp(material: Material, target: MaterialStatus) -> None:
    if target == MaterialStatus.PUBLISHED:
        material.published_at = clock.now()


async def change_material_status(
    *, material_id: int, action: str, actor: Principal, request_id: str | None = None
) -> Material:
    """Publish or unpublish a material (transition table: 409 from a wrong state)."""
    return await change_status(
        model=Material,
        record_id=material_id,
        lifecycle=MATERIAL_LIFECYCLE,
        states=MaterialStatus,
        action=action,
        actor=actor,
        request_id=request_id,
        missing=material_not_found,
        stamp=_stamp,
    )


async def get_material(*, material_id: int) -> Material:
    """One material, for staff."""
    material = await Material.get_or_none(id=material_id)
    if material is None:
        raise material_not_found()
    return material


def _page(rows: list[Material], offset: int, limit: int) -> dict[str, Any]:
    items = [serialize_material(m) for m in rows[:limit]]
    return {"items": items, "next_offset": offset + limit if len(rows) > limit else None}


async def list_materials(
    *, program_id: int, status: str | None = None, offset: int = 0, limit: int = 50
) -> dict[str, Any]:
    """A program's materials in display order (position, then id), paged by offset."""
    check_page_limit(limit)
    query = Material.filter(program_id=program_id)
    if status is not None:
        query = query.filter(status=status)
    rows = await query.order_by("position", "id").offset(offset).limit(limit + 1)
    return _page(list(rows), offset, limit)


async def promoter_materials(
    *, user_id: int, program_id: int, offset: int = 0, limit: int = 20
) -> dict[str, Any]:
    """The published materials of the caller's program, in display order."""
    await sharing_promoter(user_id=user_id, program_id=program_id)
    return await list_materials(
        program_id=program_id, status=MaterialStatus.PUBLISHED.value, offset=offset, limit=limit
    )


async def _published(program_id: int, material_id: int) -> Material:
    material = await Material.get_or_none(
        id=material_id, program_id=program_id, status=MaterialStatus.PUBLISHED.value
    )
    if material is None:
        raise material_not_found()
    return material


async def material_image(
    *,
    material_id: int,
    settings: Settings,
    user_id: int | None = None,
    program_id: int | None = None,
) -> tuple[bytes, str]:
    """A material's image and type: any for staff, a published one of their program for a
    promoter (user_id and program_id given)."""
    if user_id is not None and program_id is not None:
        await sharing_promoter(user_id=user_id, program_id=program_id)
        material = await _published(program_id, material_id)
    else:
        material = await get_material(material_id=material_id)
    if material.image_path is None:
        raise NotFound("this material has no image", code="material_image_not_found")
    content = await required_file(settings=settings, relative=material.image_path)
    return content, material.image_type or "image/png"


async def share_material(
    *, user_id: int, program_id: int, material_id: int, settings: Settings
) -> dict[str, Any]:
    """A published material ready to share: the caller's link (to the product page for a
    product material) and the copy with {link}, {mp_path}, {code} and {name} filled in."""
    promoter = await sharing_promoter(user_id=user_id, program_id=program_id)
    material = await _published(program_id, material_id)
    # The same parameters find the same link: sharing twice makes one link.
    link, _ = await create_link(
        user_id=user_id, program_id=program_id, destination=material.destination
    )
    shown = serialize_link(link, settings=settings)
    user = await User.get(id=user_id).only("id", "nickname")
    values = {
        "link": shown["h5_url"],
        "mp_path": shown["mp_path"],
        "code": shown["code"] or promoter.invite_code or "",
        "name": user.nickname or "",
    }
    return {
        "material_id": material.id,
        "kind": material.kind,
        "title": material.title,
        "text": fill_copy(material.copy_text, values),
        "has_image": material.image_path is not None,
        "link": shown,
        "code": values["code"] or None,
    }
