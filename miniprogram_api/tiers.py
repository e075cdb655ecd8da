"""A promoter's tier (benefits, progress to the next, when it is re-evaluated) and the
program leaderboard, which a promoter may leave."""

from __future__ import annotations

from pydantic import Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from sanic_ext import openapi

from server import clock
from server.auth import ROLES_PROMOTER, requires
from server.http import Body, parse_body, render
from server.services.tiers import leaderboard as leaderboard_service
from server.services.tiers import my_incentives, standing

bp = Blueprint("mp_tiers")


class OptOut(Body):
    opted_out: bool = Field(description="true: never show me on the leaderboard")


@bp.get("/programs/<program_id:int>/tier")
@openapi.definition(
    summary="My tier, its benefits, my progress to the next and when it is re-evaluated",
    secured={"bearer": []},
)
@requires(*ROLES_PROMOTER)
async def my_tier(request: Request, program_id: int) -> HTTPResponse:
    return render(
        await standing.my_tier(
            user_id=request.ctx.principal.id, program_id=program_id, now=clock.now()
        )
    )


@bp.get("/programs/<program_id:int>/incentives")
@openapi.definition(
    summary="Boosts in force for me and open milestone bonuses with my progress",
    secured={"bearer": []},
)
@requires(*ROLES_PROMOTER)
async def incentives(request: Request, program_id: int) -> HTTPResponse:
    return render(
        await my_incentives.my_incentives(
            user_id=request.ctx.principal.id, program_id=program_id, now=clock.now()
        )
    )


@bp.get("/programs/<program_id:int>/leaderboard")
@openapi.definition(
    summary="This month's top promoters by own net sales (names masked) and my place",
    secured={"bearer": []},
)
@requires(*ROLES_PROMOTER)
async def leaderboard(request: Request, program_id: int) -> HTTPResponse:
    return render(
        await leaderboard_service.leaderboard(
            user_id=request.ctx.principal.id, program_id=program_id, now=clock.now()
        )
    )


@bp.put("/programs/<program_id:int>/leaderboard/opt-out")
@openapi.definition(
    summary="Leave the leaderboard, or join it again", body=OptOut, secured={"bearer": []}
)
@requires(*ROLES_PROMOTER)
async def set_opt_out(request: Request, program_id: int) -> HTTPResponse:
    body = parse_body(request, OptOut)
    return render(
        await leaderboard_service.set_leaderboard_opt_out(
            user_id=request.ctx.principal.id, program_id=program_id, opt_out=body.opted_out
        )
    )
