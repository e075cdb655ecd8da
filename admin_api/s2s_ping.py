"""Signed ping endpoints: merchants test their request-signing code against them.

Any body (or none) is accepted; it is covered by the signature like on every S2S route.
"""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from sanic_ext import openapi

from server.http import render
from server.s2s_auth import S2S_OPENAPI_HEADERS, S2SCaller, s2s_signed

bp = Blueprint("admin_s2s_ping")


def _echo(caller: S2SCaller) -> HTTPResponse:
    return render({"ok": True, "program_id": caller.program_id, "key_id": caller.key_id})


@bp.post("/s2s/ping")
@openapi.definition(
    summary="Check a signed request: echoes the key's program id and key id",
    parameter=S2S_OPENAPI_HEADERS,
)
@s2s_signed
async def ping(request: Request) -> HTTPResponse:
    return _echo(request.ctx.s2s)


@bp.post("/programs/<program_id:int>/s2s/ping")
@openapi.definition(
    summary="Check a signed request for this program (403 s2s_wrong_program otherwise)",
    parameter=S2S_OPENAPI_HEADERS,
)
@s2s_signed
async def program_ping(request: Request, program_id: int) -> HTTPResponse:
    return _echo(request.ctx.s2s)
