"""A promoter's own wallet: balances and ledger entries in one program."""

from __future__ import annotations

from pydantic import Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from sanic_ext import openapi

from server.auth import ROLES_PROMOTER, requires
from server.domain.ledger.postings import MovementKind
from server.http import MAX_PAGE_SIZE, Query, QueryMoment, parse_query, render
from server.services.ledger import balances as balance_service

bp = Blueprint("mp_wallet")


class WalletLedgerQuery(Query):
    kind: MovementKind | None = None
    created_from: QueryMoment | None = None
    created_to: QueryMoment | None = None
    cursor: int | None = Field(default=None, ge=1)
    limit: int = Field(default=20, ge=1, le=MAX_PAGE_SIZE)


@bp.get("/programs/<program_id:int>/wallet")
@openapi.definition(
    summary="My balances in a program: pending, available, on hold, paid, carried forward",
    secured={"bearer": []},
)
@requires(*ROLES_PROMOTER)
async def my_wallet(request: Request, program_id: int) -> HTTPResponse:
    wallet = await balance_service.my_wallet(
        user_id=request.ctx.principal.id, program_id=program_id
    )
    return render(wallet)


@bp.get("/programs/<program_id:int>/wallet/ledger")
@openapi.definition(summary="My ledger entries in a program, newest first", secured={"bearer": []})
@requires(*ROLES_PROMOTER)
async def my_ledger(request: Request, program_id: int) -> HTTPResponse:
    query = parse_query(request, WalletLedgerQuery)
    page = await balance_service.my_ledger(
        user_id=request.ctx.principal.id,
        program_id=program_id,
        kind=query.kind.value if query.kind else None,
        created_from=query.created_from,
        created_to=query.created_to,
        cursor=query.cursor,
        limit=query.limit,
    )
    return render(page)
