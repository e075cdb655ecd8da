"""The program an applicant is looking at: the public part of its settings."""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from sanic_ext import openapi

from server.auth import ROLES_PROMOTER, requires
from server.http import render
from server.services.programs import settings as program_service

bp = Blueprint("mp_programs")


@bp.get("/programs/<program_id:int>")
@openapi.definition(
    summary="A program's terms for its application page (archived: 404)", secured={"bearer": []}
)
@requires(*ROLES_PROMOTER)
async def get_program(request: Request, program_id: int) -> HTTPResponse:
    program = await program_service.get_public_program(program_id=program_id)
    return render(program_service.serialize_public_program(program))
