"""Manual balance adjustments: single, bulk from a CSV upload, and the lists.

Finance and admin create them (they move money); staff may read them to answer promoters.
"""

from __future__ import annotations

from pydantic import Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from sanic_ext import openapi

from server.auth import ROLES_BACKOFFICE, ROLES_FINANCE, requires
from server.domain.errors import BadRequest
from server.http import MAX_PAGE_SIZE, Body, Query, QueryMoment, parse_body, parse_query, render
from server.idempotent import render_created, required_key
from server.services import idempotency
from server.services.ledger import adjustments as adjustment_service

bp = Blueprint("admin_adjustments")

# Here `batch_id` names an upload of adjustments, not a payout batch.
ADJUSTMENT_BATCH = {"batch_id": "adjustment_batch"}


class AdjustmentBody(Body):
    promoter_id: int = Field(ge=1)
    amount: str = Field(min_length=1, max_length=32, description="signed decimal, e.g. '-5.00'")
    currency: str = Field(min_length=3, max_length=3, description="must be the program's")
    reason_code: str = Field(description="bonus | correction | penalty | chargeback | ...")
    memo: str | None = Field(default=None, max_length=255, description="required for other")
    idempotency_key: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="or the Idempotency-Key header (one of them is required)",
    )


class AdjustmentFilter(Query):
    promoter_id: int | None = Field(default=None, ge=1)
    reason_code: str | None = None
    batch_id: int | None = Field(default=None, ge=1)
    at_from: QueryMoment | None = Field(default=None, alias="from")
    at_to: QueryMoment | None = Field(default=None, alias="to")
    cursor: int | None = Field(default=None, ge=1)
    limit: int = Field(default=50, ge=1, le=MAX_PAGE_SIZE)


class UploadQuery(Query):
    filename: str = Field(default="adjustments.csv", min_length=1, max_length=255)


@bp.post("/programs/<program_id:int>/adjustments")
@openapi.definition(
    summary="Credit or debit a promoter's available balance (idempotent by key)",
    body=AdjustmentBody,
    secured={"bearer": []},
)
@requires(*ROLES_FINANCE, body={"promoter_id": "promoter"})
async def create_adjustment(request: Request, program_id: int) -> HTTPResponse:
    body = parse_body(request, AdjustmentBody)
    key = required_key(request, body=body, body_key=body.idempotency_key)
    adjustment, replayed = await idempotency.create_once(
        key,
        lambda: adjustment_service.create_adjustment(
            program_id=program_id,
            promoter_id=body.promoter_id,
            amount=body.amount,
            currency=body.currency,
            reason_code=body.reason_code,
            memo=body.memo,
            idempotency_key=key.reference,
            actor=request.ctx.principal,
            request_id=request.ctx.request_id,
        ),
        replay=lambda adjustment_id: adjustment_service.replayed_adjustment(
            program_id=program_id, adjustment_id=adjustment_id
        ),
    )
    return render_created(adjustment, replayed=replayed)


def _upload(request: Request) -> tuple[str, bytes]:
    """The CSV of a multipart `file` field, or the raw body (text/csv, name in ?filename=)."""
    upload = request.files.get("file") if request.files else None
    if upload is not None:
        return upload.name or "adjustments.csv", upload.body
    if not request.body:
        raise BadRequest("a CSV file is required", code="file_required")
    return parse_query(request, UploadQuery).filename, request.body


@bp.post("/programs/<program_id:int>/adjustments/batches")
@openapi.definition(
    summary="Apply a CSV of adjustments, all or none (422 lists every row error)",
    secured={"bearer": []},
)
@requires(*ROLES_FINANCE)
async def upload_adjustments(request: Request, program_id: int) -> HTTPResponse:
    filename, content = _upload(request)
    batch = await adjustment_service.upload_adjustments(
        program_id=program_id,
        filename=filename,
        content=content,
        actor=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    return render(batch, status=201)


@bp.get("/programs/<program_id:int>/adjustments")
@openapi.definition(summary="A program's adjustments, newest first", secured={"bearer": []})
@requires(*ROLES_BACKOFFICE, refs=ADJUSTMENT_BATCH)
async def list_adjustments(request: Request, program_id: int) -> HTTPResponse:
    query = parse_query(request, AdjustmentFilter)
    page = await adjustment_service.list_adjustments(
        program_id=program_id,
        promoter_id=query.promoter_id,
        reason_code=query.reason_code,
        batch_id=query.batch_id,
        at_from=query.at_from,
        at_to=query.at_to,
        cursor=query.cursor,
        limit=query.limit,
    )
    return render(page)


@bp.get("/programs/<program_id:int>/adjustments/batches/<batch_id:int>")
@openapi.definition(summary="One applied adjustment upload", secured={"bearer": []})
@requires(*ROLES_BACKOFFICE, refs=ADJUSTMENT_BATCH)
async def get_batch(request: Request, program_id: int, batch_id: int) -> HTTPResponse:
    batch = await adjustment_service.get_batch(program_id=program_id, batch_id=batch_id)
    return render(batch)
