"""A promoter's own monthly statements (JSON or CSV) and the legal name and tax id they are
issued under (the tax id is shown masked, even to its owner)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from sanic_ext import openapi

from server.auth import ROLES_PROMOTER, requires
from server.http import Body, Query, parse_body, parse_query, render
from server.services.csv_export import stream_csv
from server.services.ledger import statements as statement_service

bp = Blueprint("mp_statements")


class StatementQuery(Query):
    period: str = Field(description="a calendar month, YYYY-MM, in the program's time zone")
    format: Literal["json", "csv"] = "json"


class TaxProfileBody(Body):
    legal_name: str | None = Field(default=None, max_length=128)
    tax_id: str | None = Field(default=None, max_length=64)


@bp.get("/programs/<program_id:int>/statement")
@openapi.definition(summary="My monthly statement (format=json|csv)", secured={"bearer": []})
@requires(*ROLES_PROMOTER)
async def my_statement(request: Request, program_id: int) -> HTTPResponse | None:
    query = parse_query(request, StatementQuery)
    statement = await statement_service.my_statement(
        user_id=request.ctx.principal.id, program_id=program_id, period=query.period
    )
    if query.format == "json":
        return render(statement)
    await stream_csv(request, statement_service.statement_csv(statement))
    return None


@bp.get("/programs/<program_id:int>/tax-profile")
@openapi.definition(summary="My legal name and masked tax id", secured={"bearer": []})
@requires(*ROLES_PROMOTER)
async def my_tax_profile(request: Request, program_id: int) -> HTTPResponse:
    profile = await statement_service.my_tax_profile(
        user_id=request.ctx.principal.id, program_id=program_id
    )
    return render(profile)


@bp.put("/programs/<program_id:int>/tax-profile")
@openapi.definition(
    summary="Set my legal name and tax id (shown on my statements)",
    body=TaxProfileBody,
    secured={"bearer": []},
)
@requires(*ROLES_PROMOTER)
async def set_my_tax_profile(request: Request, program_id: int) -> HTTPResponse:
    body = parse_body(request, TaxProfileBody)
    profile = await statement_service.set_my_tax_profile(
        user_id=request.ctx.principal.id,
        program_id=program_id,
        legal_name=body.legal_name,
        tax_id=body.tax_id,
        actor=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    return render(profile)
