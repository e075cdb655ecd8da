"""The H5 landing page every share link and plain QR code opens, `GET /s/<short_code>`
(public, HTML): it records the visit and opens the mini-program through a WeChat URL Link,
or shows the code to type. Unknown and withdrawn links get a 404 page, never JSON."""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, html
from sanic_ext import openapi

import server
from server.auth import public
from server.domain.errors import NotFound
from server.domain.sharing.attribution import TouchSource
from server.services.sharing import landing

TEMPLATES = Path(server.__file__).parent / "templates" / "landing"
# Its own environment: the landing is the only HTML this blueprint renders.
_pages = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined)

bp = Blueprint("landing")

# The browser's id on the landing pages: its visits count as one visitor, and it keeps the
# URL Link WeChat let it open (only the first person to open a URL Link may use it).
VISITOR_COOKIE = "fx_vid"
VISITOR_COOKIE_MAX_AGE = 365 * 86400
VISITOR_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,64}")


def _headers(nonce: str) -> dict[str, str]:
    # No script at all; the one inline stylesheet carries this response's nonce.
    policy = (
        f"default-src 'none'; style-src 'nonce-{nonce}'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    return {
        "content-security-policy": policy,
        # The URL carries the promoter's codes: never hand it to the next site.
        "referrer-policy": "no-referrer",
        "x-content-type-options": "nosniff",
        # Every open must reach the app to be counted.
        "cache-control": "no-store",
    }


def _page(template: str, *, status: int, **context: Any) -> HTTPResponse:
    nonce = secrets.token_urlsafe(16)
    body = _pages.get_template(template).render(nonce=nonce, **context)
    return html(body, status=status, headers=_headers(nonce))


def _visitor_id(request: Request) -> str:
    """The browser's landing cookie, or a new id when it has none (or a malformed one)."""
    given = request.cookies.get(VISITOR_COOKIE) or ""
    return given if VISITOR_ID_PATTERN.fullmatch(given) else secrets.token_urlsafe(16)


def _visit(request: Request, visitor_id: str) -> landing.LandingVisit | None:
    # A HEAD (link previewers probing the URL) is not someone opening the page.
    if request.method == "HEAD":
        return None
    args = request.args
    return landing.LandingVisit(
        reached_by=TouchSource.QR if args.get("via") == "qr" else TouchSource.LINK,
        visitor_id=visitor_id,
        ip=request.client_ip,
        user_agent=request.headers.get("user-agent"),
        utm_source=args.get("utm_source"),
        utm_medium=args.get("utm_medium"),
        utm_campaign=args.get("utm_campaign"),
    )


# `path`, not `str`: /s/<code>/anything is a link nobody made and gets the same 404 page.
@bp.get("/s/<short_code:path>")
@openapi.definition(summary="The landing page of a share link (public HTML; records the visit)")
@public
async def landing_page(request: Request, short_code: str) -> HTTPResponse:
    app = request.app
    visitor_id = _visitor_id(request)
    try:
        page = await landing.open_landing(
            short_code=short_code,
            visit=_visit(request, visitor_id),
            buffer=app.ctx.visit_buffer,
            targets=app.ctx.visit_targets,
            settings=app.ctx.settings,
            wechat=app.ctx.wechat,
            pause=app.ctx.wechat_pause,
        )
    except NotFound:
        return _page("not_found.html", status=404)
    response = _page(
        "link.html",
        status=200,
        short_code=page.short_code,
        program_name=page.program_name,
        promoter_nickname=page.promoter_nickname,
        code=page.code,
        destination=str(page.destination) if page.destination is not None else None,
        url_link=page.url_link,
    )
    response.add_cookie(
        VISITOR_COOKIE,
        visitor_id,
        path="/s/",
        max_age=VISITOR_COOKIE_MAX_AGE,
        httponly=True,
        samesite="Lax",
        # Plain HTTP only on a development server (`make run`); browsers drop Secure there.
        secure=app.ctx.settings.public_base_url.startswith("https://"),
    )
    return response
