"""A promoter's own withdrawals: ask for one, list them, and see what each one paid for."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from sanic_ext import openapi

from server.auth import ROLES_PROMOTER, requires
from server.domain.payouts.withdrawals import WithdrawalStatus
from server.http import MAX_PAGE_SIZE, Body, Query, parse_body, parse_query, render
from server.idempotent import render_created, required_key
from server.services import idempotency
from server.services.payouts import queries as payout_queries
from server.services.payouts import withdrawals as withdrawal_service

bp = Blueprint("mp_withdrawals")


class BankAccountBody(Body):
    bank_name: str = Field(min_length=1, max_length=128)
    account_name: str = Field(min_length=1, max_length=128)
    account_number: str = Field(min_length=1, max_length=64)


class WithdrawalBody(Body):
    amount: str = Field(min_length=1, max_length=32, description='decimal string, e.g. "50.00"')
    method: Literal["wechat", "bank", "offline"]
    idempotency_key: str | None = Field(
        default=None,
        min_length=8,
        max_length=64,
        pattern=r"^[A-Za-z0-9_.:-]+$",
        description="or the Idempotency-Key header (one of them is required)",
    )
    currency: str | None = Field(default=None, min_length=3, max_length=3)
    real_name: str | None = Field(default=None, min_length=1, max_length=64)
    bank_account: BankAccountBody | None = None


class MyWithdrawalsQuery(Query):
    status: WithdrawalStatus | None = None
    cursor: int | None = Field(default=None, ge=1)
    limit: int = Field(default=20, ge=1, le=MAX_PAGE_SIZE)


@bp.post("/programs/<program_id:int>/withdrawals")
@openapi.definition(
    summary="Ask to withdraw from my available balance (the amount goes on hold at once)",
    body=WithdrawalBody,
    secured={"bearer": []},
)
@requires(*ROLES_PROMOTER)
async def request_withdrawal(request: Request, program_id: int) -> HTTPResponse:
    body = parse_body(request, WithdrawalBody)
    bank = body.bank_account
    user_id = request.ctx.principal.id
    key = required_key(request, body=body, body_key=body.idempotency_key)

    async def request_once() -> dict[str, Any]:
        withdrawal, _ = await withdrawal_service.request_withdrawal(
            user_id=user_id,
            program_id=program_id,
            amount=body.amount,
            method=body.method,
            idempotency_key=key.reference,
            currency=body.currency,
            account=withdrawal_service.PayeeAccount(
                real_name=body.real_name,
                bank_name=bank.bank_name if bank else None,
                account_name=bank.account_name if bank else None,
                account_number=bank.account_number if bank else None,
            ),
        )
        return withdrawal

    withdrawal, replayed = await idempotency.create_once(
        key,
        request_once,
        replay=lambda withdrawal_id: withdrawal_service.own_withdrawal(
            user_id=user_id, program_id=program_id, withdrawal_id=withdrawal_id
        ),
    )
    return render_created(withdrawal, replayed=replayed)


@bp.get("/programs/<program_id:int>/withdrawals")
@openapi.definition(summary="My withdrawals in a program, newest first", secured={"bearer": []})
@requires(*ROLES_PROMOTER)
async def my_withdrawals(request: Request, program_id: int) -> HTTPResponse:
    query = parse_query(request, MyWithdrawalsQuery)
    page = await payout_queries.my_withdrawals(
        user_id=request.ctx.principal.id,
        program_id=program_id,
        status=query.status.value if query.status else None,
        cursor=query.cursor,
        limit=query.limit,
    )
    return render(page)


@bp.get("/programs/<program_id:int>/withdrawals/<withdrawal_id:int>")
@openapi.definition(
    summary="One of my withdrawals: the commissions and orders it covers, and its history",
    secured={"bearer": []},
)
@requires(*ROLES_PROMOTER)
async def my_withdrawal(request: Request, program_id: int, withdrawal_id: int) -> HTTPResponse:
    detail = await payout_queries.my_withdrawal(
        user_id=request.ctx.principal.id, program_id=program_id, withdrawal_id=withdrawal_id
    )
    return render(detail)
