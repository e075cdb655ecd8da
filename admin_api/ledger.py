"""Back-office reads of promoters' ledgers and balances, and reconciling on demand."""

from __future__ import annotations

from pydantic import Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from sanic_ext import openapi

from server.auth import ROLES_BACKOFFICE, ROLES_FINANCE, requires
from server.domain.ledger.postings import Account, MovementKind
from server.http import MAX_PAGE_SIZE, Query, QueryMoment, parse_query, render
from server.services.ledger import balances as balance_service

bp = Blueprint("admin_ledger")


class LedgerQuery(Query):
    kind: MovementKind | None = None
    account: Account | None = None
    created_from: QueryMoment | None = None
    created_to: QueryMoment | None = None
    cursor: int | None = Field(default=None, ge=1)
    limit: int = Field(default=50, ge=1, le=MAX_PAGE_SIZE)


class ReconcileQuery(Query):
    promoter_id: int | None = Field(default=None, ge=1)


@bp.get("/promoters/<promoter_id:int>/ledger")
@openapi.definition(summary="A promoter's ledger entries, newest first", secured={"bearer": []})
@requires(*ROLES_BACKOFFICE)
async def promoter_ledger(request: Request, promoter_id: int) -> HTTPResponse:
    query = parse_query(request, LedgerQuery)
    page = await balance_service.promoter_ledger(
        promoter_id=promoter_id,
        kind=query.kind.value if query.kind else None,
        account=query.account.value if query.account else None,
        created_from=query.created_from,
        created_to=query.created_to,
        cursor=query.cursor,
        limit=query.limit,
    )
    return render(page)


@bp.get("/promoters/<promoter_id:int>/balances")
@openapi.definition(summary="A promoter's balances", secured={"bearer": []})
@requires(*ROLES_BACKOFFICE)
async def promoter_balances(request: Request, promoter_id: int) -> HTTPResponse:
    return render(await balance_service.promoter_balances(promoter_id=promoter_id))


@bp.get("/ledger/reconcile")
@openapi.definition(
    summary="Reconcile cached balances with the ledger now (all promoters, or one)",
    secured={"bearer": []},
)
@requires(*ROLES_FINANCE)
async def reconcile(request: Request) -> HTTPResponse:
    query = parse_query(request, ReconcileQuery)
    report = await balance_service.reconcile_balances(
        promoter_ids=[query.promoter_id] if query.promoter_id else None,
        programs=request.ctx.principal.programs,
    )
    return render(report.to_dict())
