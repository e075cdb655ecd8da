"""Internal programs (docs/reports.md#internal-programs): staff create sub-accounts for the
merchant's own teams and campaigns, give them links and codes, and record spend for ROI."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from sanic_ext import openapi

from server.auth import ROLES_BACKOFFICE, ROLES_STAFF, requires
from server.domain.reports.spend import MAX_CSV_ROWS, SpendEntry
from server.http import Body, parse_body, render
from server.idempotent import create_once, render_created
from server.services.promoters import sub_accounts
from server.services.reports import spend
from server.services.sharing import codes as share_codes
from server.services.sharing import links as share_links

bp = Blueprint("admin_internal_programs")


class SubAccountCreate(Body):
    name: str = Field(min_length=1, max_length=64, description="the team or campaign it tracks")


class SubAccountLink(Body):
    site_id: int | None = Field(default=None, ge=1)
    channel_id: int | None = Field(default=None, ge=1)
    code_id: int | None = Field(default=None, ge=1)
    utm_source: str | None = Field(default=None, max_length=64)
    utm_medium: str | None = Field(default=None, max_length=64)
    utm_campaign: str | None = Field(default=None, max_length=64)


class SubAccountCode(Body):
    kind: Literal["referral", "voucher"] = "referral"
    code: str | None = Field(default=None, min_length=1, max_length=64)


class SpendCreate(Body):
    day: dt.date = Field(strict=False, description="a local day of the program zone, YYYY-MM-DD")
    amount: str = Field(max_length=32, description="decimal string in the program currency")
    sub_account_id: int | None = Field(default=None, ge=1)
    channel_id: int | None = Field(default=None, ge=1)
    utm_campaign: str | None = Field(default=None, min_length=1, max_length=64)
    note: str = Field(default="", max_length=255)


def spend_entry(body: SpendCreate) -> SpendEntry:
    """The spend entry a request names (its amount read as exact decimal)."""
    return SpendEntry(
        day=body.day,
        amount=spend.parse_amount(text=body.amount),
        promoter_id=body.sub_account_id,
        channel_id=body.channel_id,
        utm_campaign=body.utm_campaign,
        note=body.note,
    )


class SpendCsv(Body):
    csv: str = Field(
        max_length=MAX_CSV_ROWS * 200,
        description="CSV text with the header day,amount,sub_account_id,channel_id,"
        "utm_campaign,note (day and amount required)",
    )


@bp.post("/programs/<program_id:int>/sub-accounts")
@openapi.definition(
    summary="Create a sub-account of an internal program", body=SubAccountCreate,
    secured={"bearer": []},
)  # fmt: skip
@requires(*ROLES_STAFF)
async def create_sub_account(request: Request, program_id: int) -> HTTPResponse:
    body = parse_body(request, SubAccountCreate)
    created, replayed = await create_once(
        request,
        lambda: sub_accounts.create_sub_account(
            program_id=program_id,
            name=body.name,
            actor=request.ctx.principal,
            request_id=request.ctx.request_id,
        ),
        replay=lambda sub_id: sub_accounts.get_sub_account(
            program_id=program_id, sub_account_id=sub_id
        ),
        body=body,
    )
    return render_created(sub_accounts.serialize_sub_account(created), replayed=replayed)


@bp.get("/programs/<program_id:int>/sub-accounts")
@openapi.definition(summary="An internal program's sub-accounts", secured={"bearer": []})
@requires(*ROLES_BACKOFFICE)
async def list_sub_accounts(request: Request, program_id: int) -> HTTPResponse:
    found = await sub_accounts.list_sub_accounts(program_id=program_id)
    return render({"items": [sub_accounts.serialize_sub_account(p) for p in found]})


@bp.post("/programs/<program_id:int>/sub-accounts/<sub_account_id:int>/links")
@openapi.definition(
    summary="A share link of a sub-account for a site, channel, code and UTM (idempotent)",
    body=SubAccountLink,
    secured={"bearer": []},
)
@requires(*ROLES_STAFF)
async def create_link(request: Request, program_id: int, sub_account_id: int) -> HTTPResponse:
    body = parse_body(request, SubAccountLink)
    link, created = await sub_accounts.create_sub_account_link(
        program_id=program_id, sub_account_id=sub_account_id, **body.model_dump()
    )
    return render(
        share_links.serialize_link(link, settings=request.app.ctx.settings),
        status=201 if created else 200,
    )


@bp.post("/programs/<program_id:int>/sub-accounts/<sub_account_id:int>/codes")
@openapi.definition(
    summary="A referral or voucher code of a sub-account", body=SubAccountCode,
    secured={"bearer": []},
)  # fmt: skip
@requires(*ROLES_STAFF)
async def create_code(request: Request, program_id: int, sub_account_id: int) -> HTTPResponse:
    body = parse_body(request, SubAccountCode)
    sub = await sub_accounts.get_sub_account(program_id=program_id, sub_account_id=sub_account_id)
    user_id = sub.user_id  # type: ignore[attr-defined]
    code, replayed = await create_once(
        request,
        lambda: share_codes.create_code(
            user_id=user_id, program_id=program_id, kind=body.kind, code=body.code
        ),
        replay=lambda code_id: share_codes.own_code(
            user_id=user_id, program_id=program_id, code_id=code_id
        ),
        body=body,
    )
    return render_created(share_codes.serialize_code(code), replayed=replayed)


@bp.post("/programs/<program_id:int>/spend")
@openapi.definition(
    summary="Record one day's spend on a sub-account, channel or campaign", body=SpendCreate,
    secured={"bearer": []},
)  # fmt: skip
@requires(*ROLES_BACKOFFICE)
async def record_spend(request: Request, program_id: int) -> HTTPResponse:
    body = parse_body(request, SpendCreate)
    entry = spend_entry(body)
    records, replayed = await create_once(
        request,
        lambda: spend.record_spend(
            program_id=program_id,
            entries=[entry],
            actor=request.ctx.principal,
            request_id=request.ctx.request_id,
        ),
        replay=lambda spend_id: spend.replay_spend(program_id=program_id, spend_id=spend_id),
        body=body,
        id_of=lambda records: records[0].id,
    )
    return render_created(spend.serialize_spend(records[0]), replayed=replayed)


@bp.post("/programs/<program_id:int>/spend/import")
@openapi.definition(
    summary="Record many days' spend from CSV text, all rows or none", body=SpendCsv,
    secured={"bearer": []},
)  # fmt: skip
@requires(*ROLES_BACKOFFICE)
async def import_spend(request: Request, program_id: int) -> HTTPResponse:
    body = parse_body(request, SpendCsv)
    records, replayed = await create_once(
        request,
        lambda: spend.import_spend_csv(
            program_id=program_id,
            text=body.csv,
            actor=request.ctx.principal,
            request_id=request.ctx.request_id,
        ),
        replay=lambda first_id: spend.replay_import(program_id=program_id, first_id=first_id),
        body=body,
        id_of=lambda records: records[0].id,
    )
    items = [spend.serialize_spend(record) for record in records]
    # The import is known by its first record's id (what a replay of its key answers with).
    body_out = {"id": items[0]["id"], "items": items, "count": len(items)}
    return render_created(body_out, replayed=replayed)
