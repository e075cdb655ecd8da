"""WeChat login for the mini-program and token refresh."""

from __future__ import annotations

from pydantic import Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from sanic_ext import openapi

from server.auth import ROLES_PROMOTER, public, requires
from server.http import Body, parse_body, render
from server.services.access import users as user_service
from server.services.access.tokens import refresh_token_pair, revoke_session

bp = Blueprint("mp_auth")


class WeChatLogin(Body):
    code: str = Field(min_length=1, max_length=128)
    nickname: str | None = Field(default=None, max_length=64)
    avatar_url: str | None = Field(default=None, max_length=512)


class RefreshRequest(Body):
    refresh_token: str = Field(min_length=1, max_length=4096)


@bp.post("/auth/login")
@openapi.definition(summary="Log in with a wx.login() code (code2session)", body=WeChatLogin)
@public
async def login(request: Request) -> HTTPResponse:
    body = parse_body(request, WeChatLogin)
    result = await user_service.login_with_wechat(
        code=body.code,
        nickname=body.nickname,
        avatar_url=body.avatar_url,
        client_address=request.remote_addr or request.ip,
        wechat=request.app.ctx.wechat,
        settings=request.app.ctx.settings,
    )
    return render(result)


@bp.post("/auth/refresh")
@openapi.definition(summary="Exchange a refresh token for a new token pair", body=RefreshRequest)
@public
async def refresh(request: Request) -> HTTPResponse:
    body = parse_body(request, RefreshRequest)
    pair = await refresh_token_pair(
        refresh_token=body.refresh_token, settings=request.app.ctx.settings
    )
    return render(pair.to_dict())


@bp.post("/auth/logout")
@openapi.definition(
    summary="Log out: revoke the refresh tokens of this sign-in",
    body=RefreshRequest,
    secured={"bearer": []},
)
@requires(*ROLES_PROMOTER)
async def logout(request: Request) -> HTTPResponse:
    body = parse_body(request, RefreshRequest)
    await revoke_session(
        principal=request.ctx.principal,
        refresh_token=body.refresh_token,
        settings=request.app.ctx.settings,
    )
    return HTTPResponse(status=204)
