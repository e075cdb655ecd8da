"""Finance's withdrawal desk: the list and detail (lineage, history), and every decision:
approve, reject, pay through the provider, retry, resolve an uncertain transfer, release the
funds of a failed one, or mark one paid outside with its reference. Staff may read."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from sanic_ext import openapi

from server.auth import ROLES_BACKOFFICE, ROLES_FINANCE, requires
from server.domain.payouts.withdrawals import WithdrawalOrigin, WithdrawalStatus
from server.http import MAX_PAGE_SIZE, Body, Query, QueryMoment, parse_body, parse_query, render
from server.services.payouts import queries as payout_queries
from server.services.payouts import withdrawal_payment
from server.services.payouts import withdrawals as withdrawal_service

bp = Blueprint("admin_withdrawals")


class WithdrawalListQuery(Query):
    program_id: int | None = Field(default=None, ge=1)
    promoter_id: int | None = Field(default=None, ge=1)
    status: WithdrawalStatus | None = None
    method: Literal["wechat", "bank", "offline"] | None = None
    origin: WithdrawalOrigin | None = None
    batch_id: int | None = Field(default=None, ge=1)
    created_from: QueryMoment | None = None
    created_to: QueryMoment | None = None
    cursor: int | None = Field(default=None, ge=1)
    limit: int = Field(default=50, ge=1, le=MAX_PAGE_SIZE)


class ReasonBody(Body):
    reason: str = Field(min_length=1, max_length=512)


class MarkPaidBody(Body):
    reference: str = Field(min_length=1, max_length=128)
    note: str | None = Field(default=None, max_length=512)


def _viewer(request: Request) -> payout_queries.Viewer:
    roles = request.ctx.principal.roles
    return "finance" if roles & {"finance", "admin"} else "staff"


@bp.get("/withdrawals")
@openapi.definition(summary="Withdrawals, newest first, with filters", secured={"bearer": []})
@requires(*ROLES_BACKOFFICE)
async def list_withdrawals(request: Request) -> HTTPResponse:
    query = parse_query(request, WithdrawalListQuery)
    page = await payout_queries.list_withdrawals(
        viewer="staff",
        program_id=query.program_id,
        programs=request.ctx.principal.programs,
        promoter_id=query.promoter_id,
        status=query.status.value if query.status else None,
        method=query.method,
        origin=query.origin.value if query.origin else None,
        batch_id=query.batch_id,
        created_from=query.created_from,
        created_to=query.created_to,
        cursor=query.cursor,
        limit=query.limit,
    )
    return render(page)


@bp.get("/withdrawals/<withdrawal_id:int>")
@openapi.definition(
    summary="One withdrawal: the commissions and orders it covers, and its full history",
    secured={"bearer": []},
)
@requires(*ROLES_BACKOFFICE)
async def withdrawal_detail(request: Request, withdrawal_id: int) -> HTTPResponse:
    detail = await payout_queries.withdrawal_detail(
        withdrawal_id=withdrawal_id,
        viewer=_viewer(request),
        reader=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    return render(detail)


@bp.post("/withdrawals/<withdrawal_id:int>/approve")
@openapi.definition(summary="Approve a requested withdrawal", secured={"bearer": []})
@requires(*ROLES_FINANCE)
async def approve(request: Request, withdrawal_id: int) -> HTTPResponse:
    approved = await withdrawal_service.approve_withdrawal(
        withdrawal_id=withdrawal_id,
        actor=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    return render(approved)


@bp.post("/withdrawals/<withdrawal_id:int>/reject")
@openapi.definition(
    summary="Reject a withdrawal with a reason; the amount goes back to available",
    body=ReasonBody,
    secured={"bearer": []},
)
@requires(*ROLES_FINANCE)
async def reject(request: Request, withdrawal_id: int) -> HTTPResponse:
    body = parse_body(request, ReasonBody)
    rejected = await withdrawal_service.reject_withdrawal(
        withdrawal_id=withdrawal_id,
        reason=body.reason,
        actor=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    return render(rejected)


@bp.post("/withdrawals/<withdrawal_id:int>/pay")
@openapi.definition(
    summary="Pay an approved withdrawal through the payment provider", secured={"bearer": []}
)
@requires(*ROLES_FINANCE)
async def pay(request: Request, withdrawal_id: int) -> HTTPResponse:
    paid = await withdrawal_payment.pay_withdrawal(
        withdrawal_id=withdrawal_id,
        actor=request.ctx.principal,
        settings=request.app.ctx.settings,
    )
    return render(paid)


@bp.post("/withdrawals/<withdrawal_id:int>/retry")
@openapi.definition(
    summary="Send a failed withdrawal again, as a new transfer", secured={"bearer": []}
)
@requires(*ROLES_FINANCE)
async def retry(request: Request, withdrawal_id: int) -> HTTPResponse:
    paid = await withdrawal_payment.retry_withdrawal(
        withdrawal_id=withdrawal_id,
        actor=request.ctx.principal,
        settings=request.app.ctx.settings,
    )
    return render(paid)


@bp.post("/withdrawals/<withdrawal_id:int>/resolve")
@openapi.definition(
    summary="Ask the provider how an in-flight transfer ended, and record it",
    secured={"bearer": []},
)
@requires(*ROLES_FINANCE)
async def resolve(request: Request, withdrawal_id: int) -> HTTPResponse:
    resolved = await withdrawal_payment.resolve_withdrawal(
        withdrawal_id=withdrawal_id,
        actor=request.ctx.principal,
        settings=request.app.ctx.settings,
    )
    return render(resolved)


@bp.post("/withdrawals/<withdrawal_id:int>/release")
@openapi.definition(
    summary="Give a failed withdrawal's amount back to the promoter",
    body=ReasonBody,
    secured={"bearer": []},
)
@requires(*ROLES_FINANCE)
async def release(request: Request, withdrawal_id: int) -> HTTPResponse:
    body = parse_body(request, ReasonBody)
    released = await withdrawal_payment.release_withdrawal(
        withdrawal_id=withdrawal_id, reason=body.reason, actor=request.ctx.principal
    )
    return render(released)


@bp.post("/withdrawals/<withdrawal_id:int>/mark-paid")
@openapi.definition(
    summary="Record a withdrawal paid outside the system (bank, cash) with its reference",
    body=MarkPaidBody,
    secured={"bearer": []},
)
@requires(*ROLES_FINANCE)
async def mark_paid(request: Request, withdrawal_id: int) -> HTTPResponse:
    body = parse_body(request, MarkPaidBody)
    paid = await withdrawal_payment.mark_withdrawal_paid(
        withdrawal_id=withdrawal_id,
        reference=body.reference,
        note=body.note,
        actor=request.ctx.principal,
    )
    return render(paid)
