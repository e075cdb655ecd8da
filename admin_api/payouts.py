"""Payout batches: list and inspect them (each payout with its lineage), create one by hand for
a program, and pay a batch's provider-paid withdrawals."""

from __future__ import annotations

from pydantic import Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from sanic_ext import openapi

from server.auth import ROLES_BACKOFFICE, ROLES_FINANCE, requires
from server.http import MAX_PAGE_SIZE, Body, Query, parse_body, parse_query, render
from server.idempotent import create_once, render_created
from server.services.payouts import batches as payout_batches
from server.services.payouts import queries as payout_queries

bp = Blueprint("admin_payouts")


class BatchListQuery(Query):
    program_id: int | None = Field(default=None, ge=1)
    cursor: int | None = Field(default=None, ge=1)
    limit: int = Field(default=50, ge=1, le=MAX_PAGE_SIZE)


class CreateBatchBody(Body):
    program_id: int = Field(ge=1)
    promoter_ids: list[int] | None = Field(default=None, min_length=1, max_length=1000)


@bp.get("/payouts/batches")
@openapi.definition(summary="Payout batches, newest first", secured={"bearer": []})
@requires(*ROLES_BACKOFFICE)
async def list_batches(request: Request) -> HTTPResponse:
    query = parse_query(request, BatchListQuery)
    page = await payout_queries.list_batches(
        program_id=query.program_id,
        programs=request.ctx.principal.programs,
        cursor=query.cursor,
        limit=query.limit,
    )
    return render(page)


@bp.get("/payouts/batches/<batch_id:int>")
@openapi.definition(
    summary="A payout batch: its payouts, what each covers, and a count per status",
    secured={"bearer": []},
)
@requires(*ROLES_BACKOFFICE)
async def batch_detail(request: Request, batch_id: int) -> HTTPResponse:
    roles = request.ctx.principal.roles
    viewer = "finance" if roles & {"finance", "admin"} else "staff"
    return render(await payout_queries.batch_detail(batch_id=batch_id, viewer=viewer))


@bp.post("/payouts/batches")
@openapi.definition(
    summary="Pay out a program now: one approved payout per promoter at or above the minimum",
    body=CreateBatchBody,
    secured={"bearer": []},
)
@requires(*ROLES_FINANCE, body={"program_id": "program", "promoter_ids": "promoter"})
async def create_batch(request: Request) -> HTTPResponse:
    body = parse_body(request, CreateBatchBody)
    batch, replayed = await create_once(
        request,
        lambda: payout_batches.create_manual_batch(
            program_id=body.program_id, promoter_ids=body.promoter_ids, actor=request.ctx.principal
        ),
        replay=lambda batch_id: payout_queries.batch_detail(batch_id=batch_id, viewer="finance"),
        body=body,
    )
    return render_created(batch, replayed=replayed)


@bp.post("/payouts/batches/<batch_id:int>/pay")
@openapi.definition(
    summary="Send every approved WeChat payout of the batch through the provider",
    secured={"bearer": []},
)
@requires(*ROLES_FINANCE)
async def pay_batch(request: Request, batch_id: int) -> HTTPResponse:
    outcome = await payout_batches.pay_batch(
        batch_id=batch_id, actor=request.ctx.principal, settings=request.app.ctx.settings
    )
    return render(outcome)
