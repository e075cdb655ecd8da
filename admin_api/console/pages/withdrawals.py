"""Withdrawals and payout batches for finance: lists, lineage, and the money actions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from admin_api.console.guard import console_route
from admin_api.console.labels import N_
from admin_api.console.pages.common import done, form_text, list_page
from admin_api.console.views import page
from admin_api.payouts import BatchListQuery
from admin_api.withdrawals import WithdrawalListQuery
from server.auth import ROLES_BACKOFFICE, ROLES_FINANCE
from server.domain.errors import NotFound
from server.domain.payouts.withdrawals import WITHDRAWAL_LIFECYCLE, WithdrawalStatus
from server.services.payouts import batches as payout_batches
from server.services.payouts import queries as payout_queries
from server.services.payouts import withdrawal_payment
from server.services.payouts import withdrawals as withdrawal_service
from server.services.programs import settings as program_service

bp = Blueprint("console_withdrawals")

# The finance actions a withdrawal's status allows, in the state machine's own words;
# `resolve` asks the provider how a transfer still in flight ended.
FINANCE_ACTIONS = ("approve", "reject", "pay", "retry", "release", "mark_paid")


def finance_actions(status: str) -> list[str]:
    allowed = WITHDRAWAL_LIFECYCLE.allowed_actions(WithdrawalStatus(status))
    actions = [action for action in FINANCE_ACTIONS if action in allowed]
    return [*actions, "resolve"] if status == WithdrawalStatus.PAYING else actions


def _viewer(request: Request) -> payout_queries.Viewer:
    return "finance" if request.ctx.principal.roles & set(ROLES_FINANCE) else "staff"


@bp.get("/withdrawals")
@console_route(*ROLES_BACKOFFICE)
async def withdrawal_list(request: Request) -> HTTPResponse:
    return await list_page(
        request,
        WithdrawalListQuery,
        lambda query, _program_id: payout_queries.list_withdrawals(
            viewer="staff", programs=request.ctx.principal.programs, **query.model_dump()
        ),
        heading=N_("Withdrawals"),
        template="withdrawals/list.html",
        rows="withdrawals/_rows.html",
    )


@bp.get("/withdrawals/<withdrawal_id:int>")
@console_route(*ROLES_BACKOFFICE)
async def withdrawal_detail(request: Request, withdrawal_id: int) -> HTTPResponse:
    withdrawal = await payout_queries.withdrawal_detail(
        withdrawal_id=withdrawal_id,
        viewer=_viewer(request),
        reader=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    program = await program_service.get_program(program_id=withdrawal["program_id"])
    return await page(
        request,
        "withdrawals/detail.html",
        program=program,
        withdrawal=withdrawal,
        actions=finance_actions(withdrawal["status"]),
    )


def _reason(request: Request) -> str:
    return form_text(request, "reason") or ""


def _runner(request: Request, action: str) -> Callable[[int], Awaitable[Any]]:
    """The service call behind one action button, with what its form sent."""
    actor, settings = request.ctx.principal, request.app.ctx.settings
    request_id = request.ctx.request_id
    runners: dict[str, Callable[[int], Awaitable[Any]]] = {
        "approve": lambda wid: withdrawal_service.approve_withdrawal(
            withdrawal_id=wid, actor=actor, request_id=request_id
        ),
        "reject": lambda wid: withdrawal_service.reject_withdrawal(
            withdrawal_id=wid, reason=_reason(request), actor=actor, request_id=request_id
        ),
        "pay": lambda wid: withdrawal_payment.pay_withdrawal(
            withdrawal_id=wid, actor=actor, settings=settings
        ),
        "retry": lambda wid: withdrawal_payment.retry_withdrawal(
            withdrawal_id=wid, actor=actor, settings=settings
        ),
        "resolve": lambda wid: withdrawal_payment.resolve_withdrawal(
            withdrawal_id=wid, actor=actor, settings=settings
        ),
        "release": lambda wid: withdrawal_payment.release_withdrawal(
            withdrawal_id=wid, reason=_reason(request), actor=actor
        ),
        "mark_paid": lambda wid: withdrawal_payment.mark_withdrawal_paid(
            withdrawal_id=wid,
            reference=form_text(request, "reference", max_length=128) or "",
            note=form_text(request, "note"),
            actor=actor,
        ),
    }
    if action not in runners:
        raise NotFound("no such action", code="route_not_found")
    return runners[action]


@bp.post("/withdrawals/<withdrawal_id:int>/<action:str>")
@console_route(*ROLES_FINANCE)
async def withdrawal_action(request: Request, withdrawal_id: int, action: str) -> HTTPResponse:
    await _runner(request, action)(withdrawal_id)
    return done(f"/console/withdrawals/{withdrawal_id}")


# ---------------------------------------------------------------- payout batches


@bp.get("/payouts")
@console_route(*ROLES_BACKOFFICE)
async def batch_list(request: Request) -> HTTPResponse:
    return await list_page(
        request,
        BatchListQuery,
        lambda query, _program_id: payout_queries.list_batches(
            programs=request.ctx.principal.programs, **query.model_dump()
        ),
        heading=N_("Payout batches"),
        template="payouts/list.html",
        rows="payouts/_rows.html",
    )


@bp.get("/payouts/<batch_id:int>")
@console_route(*ROLES_BACKOFFICE)
async def batch_detail(request: Request, batch_id: int) -> HTTPResponse:
    batch = await payout_queries.batch_detail(batch_id=batch_id, viewer=_viewer(request))
    program = await program_service.get_program(program_id=batch["program_id"])
    return await page(request, "payouts/detail.html", program=program, batch=batch)


@bp.post("/payouts")
@console_route(*ROLES_FINANCE)
async def create_batch(request: Request) -> HTTPResponse:
    """Pay out the program now: one approved payout per promoter at or above the minimum."""
    program_id = int(form_text(request, "program_id") or 0)
    batch = await payout_batches.create_manual_batch(
        program_id=program_id, promoter_ids=None, actor=request.ctx.principal
    )
    return done(f"/console/payouts/{batch['id']}")


@bp.post("/payouts/<batch_id:int>/pay")
@console_route(*ROLES_FINANCE)
async def pay_batch(request: Request, batch_id: int) -> HTTPResponse:
    await payout_batches.pay_batch(
        batch_id=batch_id, actor=request.ctx.principal, settings=request.app.ctx.settings
    )
    return done(f"/console/payouts/{batch_id}")
