"""Signing in and out of the console, and the language switch."""

from __future__ import annotations

import hmac
import secrets

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, redirect

from admin_api.console import i18n
from admin_api.console.guard import (
    CSRF_FIELD,
    SESSION_COOKIE,
    console_route,
    console_session,
    safe_next,
)
from admin_api.console.views import menu_for, page
from server.auth import ROLES_BACKOFFICE, public
from server.domain.errors import FenxiaoError, Forbidden
from server.services.access.console_sessions import sign_in_console, sign_out_console

bp = Blueprint("console_auth")

# Before there is a session, the sign-in form is protected by a double-submit token.
LOGIN_CSRF_COOKIE = "fx_login_csrf"
COOKIE_PATH = "/console"
LANG_COOKIE_SECONDS = 365 * 24 * 3600


def _secure(request: Request) -> bool:
    return request.scheme == "https"


async def _login_form(
    request: Request, *, status: int = 200, error: FenxiaoError | None = None, username: str = ""
) -> HTTPResponse:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_hex(20)
    response = await page(
        request,
        "login.html",
        status=status,
        login_csrf=token,
        error=error,
        username=username,
        next=safe_next(request.args.get("next")) or "",
    )
    response.add_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        path=COOKIE_PATH,
        httponly=True,
        samesite="Strict",
        secure=_secure(request),
    )
    return response


@bp.get("/login")
@public
async def login_form(request: Request) -> HTTPResponse:
    return await _login_form(request)


@bp.post("/login")
@public
async def login(request: Request) -> HTTPResponse:
    form = request.form or {}
    sent, expected = form.get(CSRF_FIELD) or "", request.cookies.get(LOGIN_CSRF_COOKIE) or ""
    username = (form.get("username") or "").strip()[:64]
    if not expected or not hmac.compare_digest(sent, expected):
        error = Forbidden("the form has expired: reload it", code="csrf_failed")
        return await _login_form(request, status=403, error=error, username=username)
    settings = request.app.ctx.settings
    try:
        session = await sign_in_console(
            username=username,
            password=(form.get("password") or "")[:256],
            client_address=request.remote_addr or request.ip,
            settings=settings,
        )
    except FenxiaoError as error:
        return await _login_form(request, status=error.status_code, error=error, username=username)
    first = menu_for(session.principal.roles)
    target = safe_next(form.get("next")) or (first[0].path if first else "/console/promoters")
    response = redirect(target, status=303)
    response.add_cookie(
        SESSION_COOKIE,
        session.token,
        path=COOKIE_PATH,
        httponly=True,
        samesite="Lax",
        secure=_secure(request),
        max_age=settings.console_session_ttl_seconds,
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=COOKIE_PATH)
    return response


@bp.post("/logout")
@console_route(*ROLES_BACKOFFICE)
async def logout(request: Request) -> HTTPResponse:
    await sign_out_console(session=console_session(request), settings=request.app.ctx.settings)
    response = redirect("/console/login", status=303)
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)
    return response


@bp.get("/lang/<code:str>")
@public
async def switch_language(request: Request, code: str) -> HTTPResponse:
    """Remember the language in a cookie and go back to the page it was chosen on."""
    response = redirect(safe_next(request.args.get("next")) or "/console", status=303)
    response.add_cookie(
        i18n.LANG_COOKIE,
        i18n.pick_locale(code),
        path=COOKIE_PATH,
        samesite="Lax",
        secure=_secure(request),
        max_age=LANG_COOKIE_SECONDS,
    )
    return response


@bp.get("/")
@console_route(*ROLES_BACKOFFICE)
async def home(request: Request) -> HTTPResponse:
    first = menu_for(console_session(request).principal.roles)
    return redirect(first[0].path if first else "/console/login", status=303)
