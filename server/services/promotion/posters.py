"""Poster templates (staff upload them per program) and each promoter's poster: the template
with their link's QR code and their name, rendered once per template version, promoter, link
and QR kind, then served from the media directory."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from typing import Any

from tortoise.transactions import in_transaction

from server.auth import Principal
from server.config import Settings
from server.domain.errors import NotFound, ValidationFailed
from server.domain.pagination import check_page_limit, page_body
from server.domain.promotion.posters import (
    PosterLayout,
    check_image_size,
    checked_layout,
    display_name,
    poster_path,
    preview_path,
    qr_source_width,
    sniff_image_type,
)
from server.domain.sharing.qr import QR_SIZES
from server.integrations.posters import find_cjk_font, image_size, render_poster
from server.integrations.qr import render_qr_png_async
from server.integrations.wechat import WeChatGateway
from server.models import PosterTemplate, Program, User
from server.services.access.audit import record_action
from server.services.promotion.media import read_file, required_file, store_file, upload_path
from server.services.promotion.records import audit_changes, locked
from server.services.sharing import qr_codes
from server.services.sharing.channels import sharing_promoter
from server.services.sharing.links import own_link

QR_KINDS = (qr_codes.WXACODE, qr_codes.PLAIN_PNG)
PREVIEW_NAME = "示例推广员"
FALLBACK_NAME = "推广员"


@dataclass(frozen=True)
class PosterPicture:
    content: bytes
    sha256: str
    cached: bool


def template_not_found() -> NotFound:
    return NotFound("no such poster template", code="poster_template_not_found")


def serialize_template(template: PosterTemplate) -> dict[str, Any]:
    return {
        "id": template.id,
        "program_id": template.program_id,  # type: ignore[attr-defined]
        "name": template.name,
        "version": template.version,
        "content_type": template.content_type,
        "width": template.width,
        "height": template.height,
        "image_sha256": template.image_sha256,
        "layout": template.layout,
        "enabled": template.enabled,
        "created_at": template.created_at,
        "updated_at": template.updated_at,
    }


async def _checked_image(image: bytes) -> tuple[str, int, int]:
    content_type = sniff_image_type(image)
    width, height = await asyncio.to_thread(image_size, image)
    check_image_size(width, height)
    return content_type, width, height


def _clean_name(name: str | None) -> str:
    text = (name or "").strip()
    if not text or len(text) > 128:
        raise ValidationFailed("1 to 128 characters", code="validation_failed", fields={"name": ""})
    return text


async def create_poster_template(
    *,
    program_id: int,
    name: str,
    image: bytes,
    layout: dict[str, Any],
    actor: Principal,
    settings: Settings,
    request_id: str | None = None,
) -> PosterTemplate:
    """A new template of the program from an uploaded PNG or JPEG and its layout."""
    if not await Program.exists(id=program_id):
        raise NotFound("no such program", code="program_not_found")
    content_type, width, height = await _checked_image(image)
    checked = checked_layout(layout, width=width, height=height)
    relative = upload_path(folder="poster-templates", content=image, content_type=content_type)
    await store_file(settings=settings, relative=relative, content=image)
    async with in_transaction() as conn:
        template = await PosterTemplate.create(
            program_id=program_id,
            name=_clean_name(name),
            image_path=relative,
            image_sha256=hashlib.sha256(image).hexdigest(),
            content_type=content_type,
            width=width,
            height=height,
            layout=checked.as_dict(),
            using_db=conn,
        )
        await record_action(
            actor=actor,
            action="poster_template.create",
            target_kind="poster_template",
            target_id=template.id,
            program_id=program_id,
            details={"name": template.name, "image_sha256": template.image_sha256},
            request_id=request_id,
            using_db=conn,
        )
    return template


async def update_poster_template(
    *,
    template_id: int,
    changes: dict[str, Any],
    image: bytes | None,
    actor: Principal,
    settings: Settings,
    request_id: str | None = None,
) -> PosterTemplate:
    """Change a template's name, image, layout or enabled flag; a new image or layout is a
    new version (every promoter's poster is rendered again)."""
    template = await get_poster_template(template_id=template_id)
    new_image: tuple[str, str, int, int] | None = None
    if image is not None:
        content_type, width, height = await _checked_image(image)
        relative = upload_path(folder="poster-templates", content=image, content_type=content_type)
        await store_file(settings=settings, relative=relative, content=image)
        new_image = (relative, content_type, width, height)
    width, height = (new_image[2], new_image[3]) if new_image else (template.width, template.height)
    layout_changes = {k: v for k, v in (changes.get("layout") or {}).items() if v is not None}
    layout = checked_layout({**template.layout, **layout_changes}, width=width, height=height)
    async with in_transaction() as conn:
        template = await locked(PosterTemplate, template_id, conn, template_not_found)
        before = serialize_template(template)
        if "name" in changes and changes["name"] is not None:
            template.name = _clean_name(changes["name"])
        if changes.get("enabled") is not None:
            template.enabled = bool(changes["enabled"])
        if new_image is not None or layout.as_dict() != template.layout:
            template.version += 1
        if new_image is not None:
            template.image_path, template.content_type, template.width, template.height = new_image
            template.image_sha256 = hashlib.sha256(image or b"").hexdigest()
        template.layout = layout.as_dict()
        await template.save(using_db=conn)
        await audit_changes(
            conn=conn,
            actor=actor,
            action="poster_template.update",
            record=template,
            before=before,
            after=serialize_template(template),
            keys=("name", "version", "layout", "enabled", "image_sha256"),
            request_id=request_id,
        )
    return template


async def get_poster_template(*, template_id: int) -> PosterTemplate:
    """One template, for staff."""
    template = await PosterTemplate.get_or_none(id=template_id)
    if template is None:
        raise template_not_found()
    return template


async def list_poster_templates(
    *, program_id: int, enabled: bool | None = None, cursor: int | None = None, limit: int = 50
) -> dict[str, Any]:
    """A program's templates in id order, paged."""
    check_page_limit(limit)
    query = PosterTemplate.filter(program_id=program_id)
    if enabled is not None:
        query = query.filter(enabled=enabled)
    if cursor is not None:
        query = query.filter(id__gt=cursor)
    rows = await query.order_by("id").limit(limit)
    return page_body([serialize_template(t) for t in rows], limit)


async def template_image(*, template_id: int, settings: Settings) -> tuple[bytes, str]:
    """The uploaded background of a template and its content type."""
    template = await get_poster_template(template_id=template_id)
    content = await required_file(settings=settings, relative=template.image_path)
    return content, template.content_type


async def _rendered(
    template: PosterTemplate,
    *,
    relative: str,
    name: str,
    qr: Any,
    settings: Settings,
) -> PosterPicture:
    """The cached poster at `relative`, or one rendered now (with `qr()`'s PNG) and stored."""
    cached = await read_file(settings=settings, relative=relative)
    if cached is not None:
        return PosterPicture(cached, hashlib.sha256(cached).hexdigest(), cached=True)
    background = await required_file(settings=settings, relative=template.image_path)
    qr_png = await qr()
    content = await asyncio.to_thread(
        render_poster,
        background=background,
        qr_png=qr_png,
        layout=PosterLayout(**template.layout),
        name=name,
        font_path=find_cjk_font(settings.poster_font_path),
    )
    # Two first requests may both render: the same bytes, the later rename wins harmlessly.
    await store_file(settings=settings, relative=relative, content=content)
    return PosterPicture(content, hashlib.sha256(content).hexdigest(), cached=False)


async def template_preview(*, template_id: int, settings: Settings) -> PosterPicture:
    """The template as staff preview it: a sample name and a QR code of the public URL."""
    template = await get_poster_template(template_id=template_id)
    width = qr_source_width(template.layout["qr_size"], QR_SIZES)

    async def qr() -> bytes:
        return await render_qr_png_async(settings.public_base_url, width=width)

    relative = preview_path(template_id=template.id, version=template.version)
    return await _rendered(template, relative=relative, name=PREVIEW_NAME, qr=qr, settings=settings)


async def program_posters(*, user_id: int, program_id: int) -> dict[str, Any]:
    """The program's enabled templates, for one of its approved promoters."""
    await sharing_promoter(user_id=user_id, program_id=program_id)
    rows = await PosterTemplate.filter(program_id=program_id, enabled=True).order_by("id")
    items = [
        {
            "id": t.id,
            "name": t.name,
            "version": t.version,
            "width": t.width,
            "height": t.height,
        }
        for t in rows
    ]
    return {"items": items}


async def my_poster(
    *,
    user_id: int,
    program_id: int,
    template_id: int,
    link_id: int,
    kind: str,
    wechat: WeChatGateway,
    settings: Settings,
) -> PosterPicture:
    """The caller's poster of a template of their program, with one of their links' QR code
    (`wxacode`: a mini-program code, `png`: a QR of the H5 link) and their name."""
    if kind not in QR_KINDS:
        raise ValidationFailed(
            "kind must be wxacode or png", code="invalid_qr_kind", fields={"kind": list(QR_KINDS)}
        )
    promoter = await sharing_promoter(user_id=user_id, program_id=program_id)
    template = await PosterTemplate.get_or_none(id=template_id, program_id=program_id, enabled=True)
    if template is None:
        raise template_not_found()
    width = qr_source_width(template.layout["qr_size"], QR_SIZES)

    async def qr() -> bytes:
        if kind == qr_codes.WXACODE:
            picture = await qr_codes.link_wxacode(
                user_id=user_id,
                program_id=program_id,
                link_id=link_id,
                width=width,
                wechat=wechat,
                settings=settings,
            )
        else:
            picture = await qr_codes.link_qr_png(
                user_id=user_id,
                program_id=program_id,
                link_id=link_id,
                width=width,
                settings=settings,
            )
        return picture.content

    # The link must be the caller's even when the poster is already cached.
    await own_link(user_id=user_id, program_id=program_id, link_id=link_id)
    user = await User.get(id=user_id).only("id", "nickname")
    name = display_name(user.nickname, fallback=FALLBACK_NAME)
    relative = poster_path(
        template_id=template.id,
        version=template.version,
        promoter_id=promoter.id,
        link_id=link_id,
        kind=kind,
        name=name,
    )
    return await _rendered(template, relative=relative, name=name, qr=qr, settings=settings)
