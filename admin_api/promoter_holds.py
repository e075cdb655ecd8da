"""Fraud holds on a promoter: whether their money waits for staff, and manual holds.

Staff and admin place and lift manual holds (with a reason, audited); finance reads."""

from __future__ import annotations

from pydantic import Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from sanic_ext import openapi

from server.auth import ROLES_BACKOFFICE, ROLES_STAFF, requires
from server.domain.payouts.withdrawals import MAX_REASON_LENGTH
from server.http import Body, parse_body, render
from server.services.fraud import holds as hold_service

bp = Blueprint("admin_promoter_holds")


class HoldReason(Body):
    reason: str = Field(min_length=1, max_length=MAX_REASON_LENGTH)


@bp.get("/promoters/<promoter_id:int>/hold")
@openapi.definition(
    summary="Whether a promoter is on fraud hold, why, and their manual holds",
    secured={"bearer": []},
)
@requires(*ROLES_BACKOFFICE)
async def get_hold(request: Request, promoter_id: int) -> HTTPResponse:
    return render(await hold_service.hold_status(promoter_id=promoter_id))


@bp.post("/promoters/<promoter_id:int>/hold")
@openapi.definition(
    summary="Hold a promoter's commissions, withdrawals and payouts for review",
    body=HoldReason,
    secured={"bearer": []},
)
@requires(*ROLES_STAFF)
async def place_hold(request: Request, promoter_id: int) -> HTTPResponse:
    body = parse_body(request, HoldReason)
    status = await hold_service.place_hold(
        promoter_id=promoter_id,
        reason=body.reason,
        actor=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    return render(status, status=201)


@bp.post("/promoters/<promoter_id:int>/hold/lift")
@openapi.definition(
    summary="Lift the manual hold on a promoter (open anomalies may still hold them)",
    body=HoldReason,
    secured={"bearer": []},
)
@requires(*ROLES_STAFF)
async def lift_hold(request: Request, promoter_id: int) -> HTTPResponse:
    body = parse_body(request, HoldReason)
    status = await hold_service.lift_hold(
        promoter_id=promoter_id,
        reason=body.reason,
        actor=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    return render(status)
