"""Invitations to a program (staff create, list and revoke them) and promoters an admin
creates directly: how an invite-only program gets its first members. All audited."""

from __future__ import annotations

from pydantic import Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from sanic_ext import openapi

from server.auth import ROLES_ADMIN, ROLES_BACKOFFICE, ROLES_STAFF, requires
from server.domain.promoters.invitations import MAX_NOTE_LENGTH, MAX_USES
from server.http import MAX_PAGE_SIZE, Body, Moment, Query, parse_body, parse_query, render
from server.idempotent import create_once, render_created
from server.services.promoters import invitations as invitation_service
from server.services.promoters import onboarding as onboarding_service
from server.services.promoters import queries as promoter_queries

bp = Blueprint("admin_invitations")


class InvitationCreate(Body):
    kind: str = Field(default="code", description="code (typed) | link (a token in a link)")
    max_uses: int = Field(default=1, description=f"1 = single use; at most {MAX_USES}")
    expires_at: Moment | None = Field(default=None, description="null = never expires")
    note: str | None = Field(default=None, max_length=MAX_NOTE_LENGTH)


class InvitationPage(Query):
    cursor: int | None = Field(default=None, ge=1)
    limit: int = Field(default=50, ge=1, le=MAX_PAGE_SIZE)


class PromoterCreate(Body):
    user_id: int = Field(ge=1, description="a user who has logged in to the mini-program")
    real_name: str | None = Field(default=None, max_length=64)
    phone: str | None = Field(default=None, max_length=32)
    parent_id: int | None = Field(default=None, ge=1, description="an approved upline")
    reason: str = Field(min_length=1, max_length=512)


@bp.post("/programs/<program_id:int>/invitations")
@openapi.definition(
    summary="Create an invitation (code or link, limited uses, expiry); Idempotency-Key",
    body=InvitationCreate,
    secured={"bearer": []},
)
@requires(*ROLES_STAFF)
async def create_invitation(request: Request, program_id: int) -> HTTPResponse:
    body = parse_body(request, InvitationCreate)
    invitation, replayed = await create_once(
        request,
        lambda: invitation_service.create_invitation(
            program_id=program_id,
            kind=body.kind,
            max_uses=body.max_uses,
            expires_at=body.expires_at,
            note=body.note,
            actor=request.ctx.principal,
            request_id=request.ctx.request_id,
        ),
        replay=lambda invitation_id: invitation_service.get_invitation(invitation_id=invitation_id),
        body=body,
    )
    settings = request.app.ctx.settings
    shown = invitation_service.serialize_invitation(invitation, settings=settings)
    return render_created(shown, replayed=replayed)


@bp.get("/programs/<program_id:int>/invitations")
@openapi.definition(summary="A program's invitations, newest first", secured={"bearer": []})
@requires(*ROLES_BACKOFFICE)
async def list_invitations(request: Request, program_id: int) -> HTTPResponse:
    query = parse_query(request, InvitationPage)
    rows = await invitation_service.list_invitations(
        program_id=program_id, cursor=query.cursor, limit=query.limit
    )
    page = invitation_service.serialize_invitation_page(
        rows, limit=query.limit, settings=request.app.ctx.settings
    )
    return render(page)


@bp.post("/invitations/<invitation_id:int>/revoke")
@openapi.definition(summary="Revoke an invitation (audited)", secured={"bearer": []})
@requires(*ROLES_STAFF)
async def revoke_invitation(request: Request, invitation_id: int) -> HTTPResponse:
    invitation = await invitation_service.revoke_invitation(
        invitation_id=invitation_id,
        actor=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    settings = request.app.ctx.settings
    return render(invitation_service.serialize_invitation(invitation, settings=settings))


@bp.post("/programs/<program_id:int>/promoters")
@openapi.definition(
    summary="Make a user an approved promoter directly (admin, audited); Idempotency-Key",
    body=PromoterCreate,
    secured={"bearer": []},
)
@requires(*ROLES_ADMIN)
async def create_promoter(request: Request, program_id: int) -> HTTPResponse:
    body = parse_body(request, PromoterCreate)
    promoter, replayed = await create_once(
        request,
        lambda: onboarding_service.create_promoter(
            program_id=program_id,
            user_id=body.user_id,
            real_name=body.real_name,
            phone=body.phone,
            parent_id=body.parent_id,
            reason=body.reason,
            actor=request.ctx.principal,
            request_id=request.ctx.request_id,
        ),
        replay=lambda promoter_id: promoter_queries.get_promoter_for_staff(promoter_id=promoter_id),
        body=body,
    )
    shown = promoter_queries.serialize_promoter(promoter, viewer=request.ctx.principal)
    return render_created(shown, replayed=replayed)
