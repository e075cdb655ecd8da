"""The console's guard: session cookie, roles, CSRF, program scope, and coded errors as pages."""

from __future__ import annotations

import functools
import hmac
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from sanic import Request
from sanic.response import HTTPResponse, redirect

from server.auth import ALL_ROLES, ScopeRefs
from server.domain.errors import FenxiaoError, Forbidden, Unauthorized
from server.services.access.console_sessions import ConsoleSession, open_console_session
from server.services.access.scope import PARAMETERS

SESSION_COOKIE = "fx_console"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOGIN_PATH = "/console/login"
# Path parameters that name an action, not a record.
WORDS = frozenset({"action"})

Handler = Callable[..., Awaitable[HTTPResponse]]
# Renders a coded error as a page; set by admin_api.console.pages (the guard cannot import it).
ErrorPage = Callable[[Request, FenxiaoError], Awaitable[HTTPResponse]]
_error_page: list[ErrorPage] = []


def install_error_page(render: ErrorPage) -> None:
    _error_page[:] = [render]


def safe_next(raw: str | None) -> str | None:
    """A console path to return to after sign-in; anything else (other hosts) is dropped."""
    if not raw or not raw.startswith("/console") or raw.startswith("/console/login"):
        return None
    return None if any(c in raw for c in "\\\r\n") else raw


def sign_in_redirect(request: Request) -> HTTPResponse:
    target = LOGIN_PATH
    if request.method in SAFE_METHODS and safe_next(request.path):
        path = request.path + (f"?{request.query_string}" if request.query_string else "")
        target += "?next=" + quote(path, safe="")
    if request.headers.get("hx-request"):
        # htmx follows a redirect inside its swap; this makes it load the sign-in page whole.
        return HTTPResponse(status=401, headers={"HX-Redirect": target})
    return redirect(target, status=303)


def csrf_matches(request: Request, session: ConsoleSession) -> bool:
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.form is not None:
        sent = request.form.get(CSRF_FIELD)
    return sent is not None and hmac.compare_digest(sent, session.csrf_token)


async def _session(request: Request) -> ConsoleSession | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        session = await open_console_session(token=token, settings=request.app.ctx.settings)
        # A disabled account or changed roles take effect on the next click.
        principal = await request.app.ctx.confirm_principal(session.principal)
    except Unauthorized:
        return None
    return ConsoleSession(token=session.token, principal=principal, csrf_token=session.csrf_token)


async def render_error(request: Request, error: FenxiaoError) -> HTTPResponse:
    return await _error_page[0](request, error)


def _scope_refs(
    request: Request, path: dict[str, Any], kinds: dict[str, str], form: dict[str, str]
) -> ScopeRefs:
    """The records a console request names: path, query, and the form fields naming records
    (by their own names, or the ones `form` lists, each a list of ticked rows)."""
    sent = request.form if request.method not in SAFE_METHODS and request.form else {}
    fields: dict[str, Any] = {}
    for name in sent:
        if name in form:
            fields[name] = sent.getlist(name)  # type: ignore[attr-defined]
        elif name in PARAMETERS or name in kinds:
            fields[name] = sent.get(name)
    return ScopeRefs(
        path={name: value for name, value in path.items() if name not in WORDS},
        query=dict(request.args),
        body=fields,
        kinds={**{name: PARAMETERS.get(name, "") for name in fields}, **kinds, **form},
    )


def console_route(
    *roles: str, refs: dict[str, str] | None = None, form: dict[str, str] | None = None
) -> Callable[[Handler], Handler]:
    """Guard a console page: a live session holding one of `roles`, CSRF on every write, and
    a scoped account reaches only its programs' records (as `requires` does for the API).

    `refs` renames a parameter or form field to the resource it names; `form` lists the form
    fields holding ticked rows (`ids`) and the resource they name.
    """
    allowed = frozenset(roles)
    kinds = dict(refs or {})
    if not allowed or allowed - ALL_ROLES or "promoter" in allowed:
        raise ValueError(f"console_route() needs back-office roles, got {sorted(roles)}")

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def guarded(request: Request, *args: Any, **kwargs: Any) -> HTTPResponse:
            session = await _session(request)
            if session is None:
                return sign_in_redirect(request)
            request.ctx.principal = session.principal
            request.ctx.console = session
            if not session.principal.roles & allowed:
                return await render_error(
                    request, Forbidden("your role may not do this", code="role_forbidden")
                )
            if request.method not in SAFE_METHODS and not csrf_matches(request, session):
                return await render_error(
                    request, Forbidden("the form has expired: reload it", code="csrf_failed")
                )
            try:
                if session.principal.is_scoped:
                    # The API's own check: another program's record is the missing-record page.
                    named = _scope_refs(request, kwargs, kinds, form or {})
                    await request.app.ctx.check_scope(session.principal, named)
                return await handler(request, *args, **kwargs)
            except FenxiaoError as error:
                return await render_error(request, error)

        guarded.__roles__ = allowed  # type: ignore[attr-defined]
        return guarded

    return decorate


def console_session(request: Request) -> ConsoleSession:
    return request.ctx.console
