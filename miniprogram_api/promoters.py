"""Applying to a program and reading one's own promoter profiles."""

from __future__ import annotations

from pydantic import Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from sanic_ext import openapi

from server.auth import ROLES_PROMOTER, requires
from server.http import Body, parse_body, render
from server.services.promoters import agreements as agreement_service
from server.services.promoters import onboarding as promoter_service
from server.services.promoters import queries as promoter_queries

bp = Blueprint("mp_promoters")


class Application(Body):
    real_name: str | None = Field(default=None, max_length=64)
    phone: str | None = Field(default=None, max_length=32)
    agreement_version: str | None = Field(default=None, max_length=32)
    invite_code: str | None = Field(default=None, max_length=32)
    invitation: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="a staff invitation's code, or the token of its link",
    )


class Acceptance(Body):
    version: str = Field(min_length=1, max_length=32)


@bp.post("/programs/<program_id:int>/applications")
@openapi.definition(
    summary="Apply to become a promoter of a program", body=Application, secured={"bearer": []}
)
@requires(*ROLES_PROMOTER)
async def apply(request: Request, program_id: int) -> HTTPResponse:
    body = parse_body(request, Application)
    result = await promoter_service.apply_to_program(
        user_id=request.ctx.principal.id,
        program_id=program_id,
        real_name=body.real_name,
        phone=body.phone,
        agreement_version=body.agreement_version,
        invite_code=body.invite_code,
        invitation=body.invitation,
        request_id=request.ctx.request_id,
    )
    return render(result, status=201)


@bp.get("/me/promoters")
@openapi.definition(
    summary="My promoter profiles across programs, newest first", secured={"bearer": []}
)
@requires(*ROLES_PROMOTER)
async def my_profiles(request: Request) -> HTTPResponse:
    return render(await promoter_queries.list_my_profiles(user_id=request.ctx.principal.id))


@bp.get("/programs/<program_id:int>/me")
@openapi.definition(summary="My current promoter profile in one program", secured={"bearer": []})
@requires(*ROLES_PROMOTER)
async def my_profile(request: Request, program_id: int) -> HTTPResponse:
    profile = await promoter_queries.get_my_profile(
        user_id=request.ctx.principal.id, program_id=program_id
    )
    return render(profile)


@bp.get("/programs/<program_id:int>/agreement")
@openapi.definition(
    summary="The agreement version the program asks for and the one I accepted",
    secured={"bearer": []},
)
@requires(*ROLES_PROMOTER)
async def my_agreement(request: Request, program_id: int) -> HTTPResponse:
    status = await agreement_service.agreement_status(
        user_id=request.ctx.principal.id, program_id=program_id
    )
    return render(status)


@bp.post("/programs/<program_id:int>/agreement")
@openapi.definition(
    summary="Accept the program's current agreement version (recorded with the time)",
    body=Acceptance,
    secured={"bearer": []},
)
@requires(*ROLES_PROMOTER)
async def accept_agreement(request: Request, program_id: int) -> HTTPResponse:
    body = parse_body(request, Acceptance)
    status = await agreement_service.accept_agreement(
        user_id=request.ctx.principal.id,
        program_id=program_id,
        version=body.version,
        request_id=request.ctx.request_id,
    )
    return render(status)
