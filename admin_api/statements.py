"""Promoter statements for finance and admin (tax ids unmasked): one promoter's month as JSON
or CSV, a program's month as one streamed CSV, and the name and tax id they are issued under.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from sanic_ext import openapi

from server.auth import ROLES_FINANCE, requires
from server.http import Body, Query, parse_body, parse_query, render
from server.services.csv_export import stream_csv
from server.services.ledger import statements as statement_service

bp = Blueprint("admin_statements")


class StatementQuery(Query):
    period: str = Field(description="a calendar month, YYYY-MM, in the program's time zone")
    format: Literal["json", "csv"] = "json"


class ProgramStatementsQuery(Query):
    period: str = Field(description="YYYY-MM")


class TaxProfileBody(Body):
    legal_name: str | None = Field(default=None, max_length=128)
    tax_id: str | None = Field(default=None, max_length=64)


@bp.get("/promoters/<promoter_id:int>/statement")
@openapi.definition(
    summary="A promoter's monthly statement (format=json|csv)", secured={"bearer": []}
)
@requires(*ROLES_FINANCE)
async def promoter_statement(request: Request, promoter_id: int) -> HTTPResponse | None:
    query = parse_query(request, StatementQuery)
    statement = await statement_service.promoter_statement(
        promoter_id=promoter_id,
        period=query.period,
        reader=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    if query.format == "json":
        return render(statement)
    await stream_csv(request, statement_service.statement_csv(statement))
    return None


@bp.get("/programs/<program_id:int>/statements.csv")
@openapi.definition(
    summary="Every promoter's statement of a month in a program, one CSV row each, streamed",
    secured={"bearer": []},
)
@requires(*ROLES_FINANCE)
async def program_statements(request: Request, program_id: int) -> None:
    query = parse_query(request, ProgramStatementsQuery)
    export = await statement_service.program_statements_export(
        program_id=program_id,
        period=query.period,
        reader=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    await stream_csv(request, export)


@bp.put("/promoters/<promoter_id:int>/tax-profile")
@openapi.definition(
    summary="Set a promoter's legal name and tax id (shown on statements)",
    body=TaxProfileBody,
    secured={"bearer": []},
)
@requires(*ROLES_FINANCE)
async def set_tax_profile(request: Request, promoter_id: int) -> HTTPResponse:
    body = parse_body(request, TaxProfileBody)
    profile = await statement_service.set_promoter_tax_profile(
        promoter_id=promoter_id,
        legal_name=body.legal_name,
        tax_id=body.tax_id,
        actor=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    return render(profile)
