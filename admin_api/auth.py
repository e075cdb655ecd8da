"""Staff login, token refresh and staff account management."""

from __future__ import annotations

from pydantic import Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from sanic_ext import openapi

from server.auth import ROLES_ADMIN, ROLES_BACKOFFICE, public, requires
from server.http import Body, parse_body, render
from server.idempotent import create_once, render_created
from server.models import StaffUser
from server.services.access import staff as staff_service
from server.services.access.tokens import refresh_token_pair, revoke_session

bp = Blueprint("admin_auth")


PROGRAMS_DESCRIPTION = (
    "program ids a staff or finance account is limited to; null = every program (admins always)"
)


class StaffLogin(Body):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class RefreshRequest(Body):
    refresh_token: str = Field(min_length=1, max_length=4096)


class StaffCreate(Body):
    username: str = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
    password: str = Field(min_length=1, max_length=256)
    roles: list[str] = Field(min_length=1, max_length=3)
    display_name: str = Field(default="", max_length=64)
    programs: list[int] | None = Field(
        default=None, max_length=1000, description=PROGRAMS_DESCRIPTION
    )


class StaffUpdate(Body):
    roles: list[str] | None = Field(default=None, min_length=1, max_length=3)
    is_active: bool | None = None
    programs: list[int] | None = Field(
        default=None, max_length=1000, description=PROGRAMS_DESCRIPTION + "; absent = unchanged"
    )


@bp.post("/auth/login")
@openapi.definition(summary="Staff login with username and password", body=StaffLogin)
@public
async def login(request: Request) -> HTTPResponse:
    body = parse_body(request, StaffLogin)
    pair = await staff_service.login_staff(
        username=body.username,
        password=body.password,
        client_address=request.remote_addr or request.ip,
        settings=request.app.ctx.settings,
    )
    return render(pair.to_dict())


@bp.post("/auth/refresh")
@openapi.definition(summary="Exchange a refresh token for a new token pair", body=RefreshRequest)
@public
async def refresh(request: Request) -> HTTPResponse:
    body = parse_body(request, RefreshRequest)
    pair = await refresh_token_pair(
        refresh_token=body.refresh_token, settings=request.app.ctx.settings
    )
    return render(pair.to_dict())


@bp.post("/auth/logout")
@openapi.definition(
    summary="Log out: revoke the refresh tokens of this sign-in",
    body=RefreshRequest,
    secured={"bearer": []},
)
@requires(*ROLES_BACKOFFICE)
async def logout(request: Request) -> HTTPResponse:
    body = parse_body(request, RefreshRequest)
    await revoke_session(
        principal=request.ctx.principal,
        refresh_token=body.refresh_token,
        settings=request.app.ctx.settings,
    )
    return HTTPResponse(status=204)


@bp.get("/auth/me")
@openapi.definition(summary="The signed-in staff account", secured={"bearer": []})
@requires(*ROLES_BACKOFFICE)
async def me(request: Request) -> HTTPResponse:
    principal = request.ctx.principal
    programs = sorted(principal.programs) if principal.programs is not None else None
    return render({"id": principal.id, "roles": sorted(principal.roles), "programs": programs})


@bp.get("/staff")
@openapi.definition(summary="List staff accounts", secured={"bearer": []})
@requires(*ROLES_ADMIN)
async def list_staff(request: Request) -> HTTPResponse:
    users = await staff_service.list_staff_users()
    return render({"items": await staff_service.staff_views(users)})


async def create_staff_from(request: Request, body: StaffCreate) -> StaffUser:
    """The account a valid creation body describes, created by the signed-in admin."""
    return await staff_service.create_staff_user(
        username=body.username,
        password=body.password,
        roles=body.roles,
        display_name=body.display_name,
        programs=body.programs,
        actor=request.ctx.principal,
        request_id=request.ctx.request_id,
    )


@bp.post("/staff")
@openapi.definition(summary="Create a staff account", body=StaffCreate, secured={"bearer": []})
@requires(*ROLES_ADMIN)
async def create_staff(request: Request) -> HTTPResponse:
    body = parse_body(request, StaffCreate)
    staff, replayed = await create_once(
        request,
        lambda: create_staff_from(request, body),
        replay=lambda staff_id: staff_service.get_staff_user(staff_id=staff_id),
        body=body,
        secret_fields={"password"},
    )
    (view,) = await staff_service.staff_views([staff])
    return render_created(view, replayed=replayed)


@bp.patch("/staff/<staff_id:int>")
@openapi.definition(
    summary="Change a staff account's roles, active flag or programs",
    body=StaffUpdate,
    secured={"bearer": []},
)
@requires(*ROLES_ADMIN)
async def update_staff(request: Request, staff_id: int) -> HTTPResponse:
    body = parse_body(request, StaffUpdate)
    staff = await staff_service.update_staff_user(
        staff_id=staff_id,
        roles=body.roles,
        is_active=body.is_active,
        programs=body.programs if "programs" in body.model_fields_set else staff_service.UNCHANGED,
        actor=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    (view,) = await staff_service.staff_views([staff])
    return render(view)
