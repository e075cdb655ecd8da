"""Visits (a shared page opened, a code scanned) and customer registration through a link or
code, which is when `on_register` programs bind the customer."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from sanic_ext import openapi

from server.auth import ROLES_PROMOTER, decode_token, public, requires
from server.domain.errors import Forbidden, Unauthorized
from server.domain.sharing.attribution import visit_reached_by
from server.domain.sharing.codes import SHORT_CODE_MAX_LENGTH
from server.http import Body, parse_body, render
from server.observability import log_failures_only
from server.services.sharing import binding_queries, bindings, visits

# Every recorded visit gets the same answer, encoded once (this route is the busiest).
ACCEPTED_BODY = b'{"accepted":true}'

bp = Blueprint("mp_visits")

# Every request a mini-program makes carries this referer; an H5 page's does not.
MINI_PROGRAM_REFERER = "https://servicewechat.com/"


class VisitCreate(Body):
    short_code: str | None = Field(default=None, min_length=1, max_length=SHORT_CODE_MAX_LENGTH)
    program_id: int | None = Field(default=None, ge=1)
    code: str | None = Field(default=None, min_length=1, max_length=64)
    # A stable id the page keeps for its visitor (hashed before storage).
    visitor_id: str | None = Field(default=None, min_length=1, max_length=128)
    utm_source: str | None = Field(default=None, max_length=64)
    utm_medium: str | None = Field(default=None, max_length=64)
    utm_campaign: str | None = Field(default=None, max_length=64)
    # Omitted: "mp" for requests from the mini-program, "h5" otherwise.
    source: Literal["mp", "h5"] | None = None
    # How the visitor reached the link or code, when the page knows (a QR's URL can say so);
    # else the mini-program's launch scene (wx.getLaunchOptionsSync().scene) tells a scan.
    reached_by: Literal["link", "qr", "code"] | None = None
    launch_scene: int | None = Field(default=None, ge=1000, le=9999)


class Registration(Body):
    short_code: str | None = Field(default=None, min_length=1, max_length=SHORT_CODE_MAX_LENGTH)
    code: str | None = Field(default=None, min_length=1, max_length=64)


def _customer_user_id(request: Request) -> int | None:
    """The user behind an optional bearer token; a bad token makes the visit anonymous."""
    authorization = request.headers.get("authorization")
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    try:
        principal, _ = decode_token(
            token.strip(), secret=request.app.ctx.settings.jwt_secret, token_type="access"
        )
    except Unauthorized:
        return None
    if principal.kind != "user" or "promoter" not in principal.roles:
        return None
    return principal.id


@bp.post("/visits")
@openapi.definition(
    summary="Record a visit through a share link's short code or a program's code (public)",
    body=VisitCreate,
)
@public
async def record_visit(request: Request) -> HTTPResponse:
    log_failures_only(request)
    body = parse_body(request, VisitCreate)
    source = body.source or (
        "mp" if request.headers.get("referer", "").startswith(MINI_PROGRAM_REFERER) else "h5"
    )
    await visits.record_visit(
        buffer=request.app.ctx.visit_buffer,
        targets=request.app.ctx.visit_targets,
        settings=request.app.ctx.settings,
        short_code=body.short_code,
        program_id=body.program_id,
        code=body.code,
        source=source,
        reached_by=visit_reached_by(stated=body.reached_by, launch_scene=body.launch_scene),
        visitor_id=body.visitor_id,
        utm_source=body.utm_source,
        utm_medium=body.utm_medium,
        utm_campaign=body.utm_campaign,
        ip=request.client_ip,
        user_agent=request.headers.get("user-agent"),
        customer_user_id=_customer_user_id(request),
    )
    return HTTPResponse(ACCEPTED_BODY, status=202, content_type="application/json")


@bp.post("/programs/<program_id:int>/register")
@openapi.definition(
    summary="Register as a customer through a link or code (binds in on_register programs)",
    body=Registration,
    secured={"bearer": []},
)
@requires(*ROLES_PROMOTER)
async def register(request: Request, program_id: int) -> HTTPResponse:
    body = parse_body(request, Registration)
    principal = request.ctx.principal
    if principal.kind != "user":
        raise Forbidden("only mini-program users register", code="role_forbidden")
    decision = await bindings.register_customer(
        user_id=principal.id, program_id=program_id, short_code=body.short_code, code=body.code
    )
    return render(binding_queries.serialize_decision(decision))
