"""The program leaderboard as staff see it: the ranks promoters see (opted-out promoters left
out) with who each one is, and whether the program shows it (admins switch it in the
program's settings)."""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from admin_api.console.guard import console_route
from admin_api.console.pages.common import chosen_program, done, form_text
from admin_api.console.views import page
from server import clock
from server.auth import ROLES_ADMIN, ROLES_BACKOFFICE
from server.services.programs import settings as program_service
from server.services.tiers import leaderboard as leaderboard_service

bp = Blueprint("console_leaderboard")


@bp.get("/leaderboard")
@console_route(*ROLES_BACKOFFICE)
async def leaderboard_page(request: Request) -> HTTPResponse:
    program, programs = await chosen_program(request)
    board = await leaderboard_service.staff_leaderboard(program_id=program.id, now=clock.now())
    return await page(
        request,
        "leaderboard/board.html",
        program=program,
        programs=programs,
        board=board,
    )


@bp.post("/leaderboard")
@console_route(*ROLES_ADMIN)
async def switch_leaderboard(request: Request) -> HTTPResponse:
    """Show the leaderboard to the program's promoters, or stop showing it (a setting)."""
    program, _ = await chosen_program(request)
    await program_service.update_program(
        program_id=program.id,
        changes={"leaderboard_enabled": form_text(request, "enabled") == "1"},
        actor=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    return done(f"/console/leaderboard?program_id={program.id}")
