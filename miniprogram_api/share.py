"""Share instruments for promoters: channels, codes and aliases, share links and their QR
images; plus the public resolver a shared page or scanned code calls."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, raw
from sanic_ext import openapi

from server.auth import ROLES_PROMOTER, public, requires
from server.domain.errors import Forbidden, NotFound
from server.domain.sharing.codes import SHORT_CODE_MAX_LENGTH
from server.domain.sharing.destinations import MAX_DESTINATION_LENGTH
from server.domain.sharing.qr import QR_SIZES
from server.http import Body, Query, parse_body, parse_query, render
from server.idempotent import create_once, render_created
from server.services.sharing import channels as share_service
from server.services.sharing import codes as share_codes
from server.services.sharing import links as share_links
from server.services.sharing import qr_codes

bp = Blueprint("mp_share")

# A link's QR images never change, but they are per caller: private caches only.
PNG_CACHE_CONTROL = "private, max-age=86400"


def response_png(content: bytes, *, etag: str | None = None) -> HTTPResponse:
    """A PNG body with caching headers."""
    headers = {"cache-control": PNG_CACHE_CONTROL}
    if etag:
        headers["etag"] = f'"{etag}"'
    return raw(content, content_type="image/png", headers=headers)


def _user_id(request: Request) -> int:
    principal = request.ctx.principal
    if principal.kind != "user":
        raise Forbidden("only mini-program users share", code="role_forbidden")
    return principal.id


class Page(Query):
    cursor: int | None = Field(default=None, ge=0)
    limit: int = Field(default=50, ge=1, le=100)


class ChannelCreate(Body):
    name: str = Field(min_length=1, max_length=64)


class ChannelUpdate(Body):
    name: str | None = Field(default=None, min_length=1, max_length=64)
    is_active: bool | None = None


class CodeCreate(Body):
    kind: Literal["referral", "voucher"] = "referral"
    # Omitted: a code is generated. Its form is checked by the service (invalid_code).
    code: str | None = Field(default=None, min_length=1, max_length=64)
    channel_id: int | None = Field(default=None, ge=1)


class AliasCreate(Body):
    alias: str = Field(min_length=1, max_length=64)


class LinkCreate(Body):
    channel_id: int | None = Field(default=None, ge=1)
    site_id: int | None = Field(default=None, ge=1)
    code_id: int | None = Field(default=None, ge=1)
    utm_source: str | None = Field(default=None, max_length=64)
    utm_medium: str | None = Field(default=None, max_length=64)
    utm_campaign: str | None = Field(default=None, max_length=64)
    # A page of the mini-program and its query (`pages/product/detail?id=42`); its form is
    # checked by the service (invalid_destination).
    destination: str | None = Field(default=None, min_length=1, max_length=MAX_DESTINATION_LENGTH)


class QrQuery(Query):
    # Checked against the fixed sizes by the service (422 invalid_width naming them).
    width: int = Field(
        default=qr_codes.DEFAULT_WIDTH, description="one of " + ", ".join(map(str, QR_SIZES))
    )


@bp.get("/programs/<program_id:int>/channels")
@openapi.definition(summary="List my channels", secured={"bearer": []})
@requires(*ROLES_PROMOTER)
async def list_channels(request: Request, program_id: int) -> HTTPResponse:
    page = parse_query(request, Page)
    channels = await share_service.list_channels(
        user_id=_user_id(request), program_id=program_id, cursor=page.cursor, limit=page.limit
    )
    items = [share_service.serialize_channel(c) for c in channels]
    return render({"items": items, "next_cursor": items[-1]["id"] if items else None})


@bp.post("/programs/<program_id:int>/channels")
@openapi.definition(summary="Create a channel", body=ChannelCreate, secured={"bearer": []})
@requires(*ROLES_PROMOTER)
async def create_channel(request: Request, program_id: int) -> HTTPResponse:
    body = parse_body(request, ChannelCreate)
    user_id = _user_id(request)
    channel, replayed = await create_once(
        request,
        lambda: share_service.create_channel(
            user_id=user_id, program_id=program_id, name=body.name
        ),
        replay=lambda channel_id: share_service.caller_channel(
            user_id=user_id, program_id=program_id, channel_id=channel_id
        ),
        body=body,
    )
    return render_created(share_service.serialize_channel(channel), replayed=replayed)


@bp.patch("/programs/<program_id:int>/channels/<channel_id:int>")
@openapi.definition(
    summary="Rename or (de)activate a channel", body=ChannelUpdate, secured={"bearer": []}
)
@requires(*ROLES_PROMOTER)
async def update_channel(request: Request, program_id: int, channel_id: int) -> HTTPResponse:
    body = parse_body(request, ChannelUpdate)
    channel = await share_service.update_channel(
        user_id=_user_id(request),
        program_id=program_id,
        channel_id=channel_id,
        name=body.name,
        is_active=body.is_active,
    )
    return render(share_service.serialize_channel(channel))


@bp.get("/programs/<program_id:int>/codes")
@openapi.definition(summary="List my codes with their aliases", secured={"bearer": []})
@requires(*ROLES_PROMOTER)
async def list_codes(request: Request, program_id: int) -> HTTPResponse:
    page = parse_query(request, Page)
    codes = await share_codes.list_codes(
        user_id=_user_id(request), program_id=program_id, cursor=page.cursor, limit=page.limit
    )
    items = [share_codes.serialize_code(c) for c in codes]
    return render({"items": items, "next_cursor": items[-1]["id"] if items else None})


@bp.post("/programs/<program_id:int>/codes")
@openapi.definition(
    summary="Create a referral or voucher code", body=CodeCreate, secured={"bearer": []}
)
@requires(*ROLES_PROMOTER)
async def create_code(request: Request, program_id: int) -> HTTPResponse:
    body = parse_body(request, CodeCreate)
    user_id = _user_id(request)
    code, replayed = await create_once(
        request,
        lambda: share_codes.create_code(
            user_id=user_id,
            program_id=program_id,
            kind=body.kind,
            code=body.code,
            channel_id=body.channel_id,
        ),
        replay=lambda code_id: share_codes.own_code(
            user_id=user_id, program_id=program_id, code_id=code_id
        ),
        body=body,
    )
    return render_created(share_codes.serialize_code(code), replayed=replayed)


@bp.post("/programs/<program_id:int>/codes/<code_id:int>/aliases")
@openapi.definition(
    summary="Add an alias to one of my codes", body=AliasCreate, secured={"bearer": []}
)
@requires(*ROLES_PROMOTER)
async def add_alias(request: Request, program_id: int, code_id: int) -> HTTPResponse:
    body = parse_body(request, AliasCreate)
    user_id = _user_id(request)
    alias, replayed = await create_once(
        request,
        lambda: share_codes.add_alias(
            user_id=user_id, program_id=program_id, code_id=code_id, alias=body.alias
        ),
        replay=lambda alias_id: share_codes.own_code(
            user_id=user_id, program_id=program_id, code_id=alias_id
        ),
        body=body,
    )
    return render_created(share_codes.serialize_code(alias), replayed=replayed)


@bp.post("/programs/<program_id:int>/codes/<code_id:int>/deactivate")
@openapi.definition(summary="Deactivate one of my codes (and its aliases)", secured={"bearer": []})
@requires(*ROLES_PROMOTER)
async def deactivate_code(request: Request, program_id: int, code_id: int) -> HTTPResponse:
    code = await share_codes.deactivate_code(
        user_id=_user_id(request), program_id=program_id, code_id=code_id
    )
    return render(share_codes.serialize_code(code))


@bp.get("/programs/<program_id:int>/links")
@openapi.definition(summary="List my share links", secured={"bearer": []})
@requires(*ROLES_PROMOTER)
async def list_links(request: Request, program_id: int) -> HTTPResponse:
    page = parse_query(request, Page)
    links = await share_links.list_links(
        user_id=_user_id(request), program_id=program_id, cursor=page.cursor, limit=page.limit
    )
    settings = request.app.ctx.settings
    items = [share_links.serialize_link(link, settings=settings) for link in links]
    return render({"items": items, "next_cursor": items[-1]["id"] if items else None})


@bp.post("/programs/<program_id:int>/links")
@openapi.definition(
    summary="Get a share link for a code, channel, site and UTM (idempotent)",
    body=LinkCreate,
    secured={"bearer": []},
)
@requires(*ROLES_PROMOTER)
async def create_link(request: Request, program_id: int) -> HTTPResponse:
    body = parse_body(request, LinkCreate)
    link, created = await share_links.create_link(
        user_id=_user_id(request),
        program_id=program_id,
        channel_id=body.channel_id,
        site_id=body.site_id,
        code_id=body.code_id,
        utm_source=body.utm_source,
        utm_medium=body.utm_medium,
        utm_campaign=body.utm_campaign,
        destination=body.destination,
    )
    return render(
        share_links.serialize_link(link, settings=request.app.ctx.settings),
        status=201 if created else 200,
    )


@bp.get("/programs/<program_id:int>/links/<link_id:int>/wxacode")
@openapi.definition(summary="Mini-program code (PNG) of one of my links", secured={"bearer": []})
@requires(*ROLES_PROMOTER)
async def link_wxacode(request: Request, program_id: int, link_id: int) -> HTTPResponse:
    query = parse_query(request, QrQuery)
    picture = await qr_codes.link_wxacode(
        user_id=_user_id(request),
        program_id=program_id,
        link_id=link_id,
        width=query.width,
        wechat=request.app.ctx.wechat,
        settings=request.app.ctx.settings,
    )
    return response_png(picture.content, etag=picture.sha256)


@bp.get("/programs/<program_id:int>/links/<link_id:int>/qr.png")
@openapi.definition(
    summary="Plain QR code (PNG) of one of my links' H5 URL", secured={"bearer": []}
)
@requires(*ROLES_PROMOTER)
async def link_qr_png(request: Request, program_id: int, link_id: int) -> HTTPResponse:
    query = parse_query(request, QrQuery)
    picture = await qr_codes.link_qr_png(
        user_id=_user_id(request),
        program_id=program_id,
        link_id=link_id,
        width=query.width,
        settings=request.app.ctx.settings,
    )
    return response_png(picture.content, etag=picture.sha256)


@bp.get("/s/<short_code:str>")
@openapi.definition(summary="What a shared link or scanned code points to (public)")
@public
async def resolve_link(request: Request, short_code: str) -> HTTPResponse:
    if len(short_code) > SHORT_CODE_MAX_LENGTH:
        raise NotFound("no such link", code="link_not_found")
    link = await share_links.resolve_short_code(short_code=short_code)
    return render(share_links.serialize_public_link(link))
