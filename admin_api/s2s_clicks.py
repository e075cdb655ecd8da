"""Server-side clicks from the store (signed S2S): one per request, or a batch of up to 500;
the program comes from the signing key.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from sanic_ext import openapi

from server.domain.access.scopes import CLICKS_WRITE
from server.domain.sharing.clicks import MAX_BATCH_CLICKS
from server.domain.sharing.codes import SHORT_CODE_MAX_LENGTH
from server.http import Body, parse_body, render
from server.observability import log_failures_only
from server.s2s_auth import S2S_OPENAPI_HEADERS, s2s_signed
from server.services.sharing import clicks as s2s_clicks

bp = Blueprint("admin_s2s_clicks")

Identity = Annotated[str, Field(min_length=1, max_length=128)]
Utm = Annotated[str, Field(max_length=64)]
ClickId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:\-]+$")]


class ClickCustomer(Body):
    """Who clicked, when the store knows: a mini-program user and/or the store's own id."""

    openid: Identity | None = None
    unionid: Identity | None = None
    external_id: Identity | None = None


class Click(Body):
    """Exactly one of short_code, code, invite_code names the instrument followed."""

    click_id: ClickId | None = Field(
        default=None, description="the store's id of the click: sent again, recorded once"
    )
    short_code: str | None = Field(default=None, min_length=1, max_length=SHORT_CODE_MAX_LENGTH)
    code: str | None = Field(default=None, min_length=1, max_length=64)
    invite_code: str | None = Field(default=None, min_length=1, max_length=32)
    channel: str | None = Field(
        default=None, min_length=1, max_length=64, description="a channel name of the promoter"
    )
    site_id: int | None = Field(default=None, ge=1)
    utm_source: Utm | None = None
    utm_medium: Utm | None = None
    utm_campaign: Utm | None = None
    customer: ClickCustomer | None = None
    ip: str | None = Field(default=None, min_length=1, max_length=64)
    user_agent: str = Field(
        min_length=1,
        max_length=512,
        description="the customer's user agent as the store saw it (bots are flagged by it)",
    )
    occurred_at: str = Field(
        min_length=10,
        max_length=40,
        description="ISO-8601 with offset; ≤ 5 min ahead, ≤ 30 days old",
    )


class ClickBatch(Body):
    clicks: list[Click] = Field(min_length=1, max_length=MAX_BATCH_CLICKS)


def _context(request: Request) -> s2s_clicks.ClickContext:
    return s2s_clicks.ClickContext(
        program_id=request.ctx.s2s.program_id,
        buffer=request.app.ctx.visit_buffer,
        targets=request.app.ctx.visit_targets,
        settings=request.app.ctx.settings,
    )


@bp.post("/s2s/clicks")
@openapi.definition(
    summary="Record a server-side click as a visit (202); idempotent by click_id",
    body=Click,
    parameter=S2S_OPENAPI_HEADERS,
)
@s2s_signed(scope=CLICKS_WRITE)
async def post_click(request: Request) -> HTTPResponse:
    log_failures_only(request)
    click = parse_body(request, Click).model_dump(mode="json", exclude_none=True)
    outcome = await s2s_clicks.record_click(click=click, context=_context(request))
    response = render(outcome.body(), status=outcome.status)
    if outcome.duplicate:
        response.headers["x-fenxiao-replayed"] = "true"
    return response


@bp.post("/s2s/clicks/batch")
@openapi.definition(
    summary="Record up to 500 server-side clicks; one result per click, in order",
    body=ClickBatch,
    parameter=S2S_OPENAPI_HEADERS,
)
@s2s_signed(scope=CLICKS_WRITE)
async def post_clicks(request: Request) -> HTTPResponse:
    log_failures_only(request)
    batch = parse_body(request, ClickBatch)
    clicks = [click.model_dump(mode="json", exclude_none=True) for click in batch.clicks]
    return render(await s2s_clicks.record_clicks(clicks=clicks, context=_context(request)))
