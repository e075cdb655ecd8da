"""The admin console: server-rendered pages under /console (Jinja2 through sanic-ext, htmx)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from sanic import Blueprint, Request, Sanic
from sanic.response import HTTPResponse

URL_PREFIX = "/console"
STATIC_DIR = Path(__file__).parent / "static"
TEMPLATES_DIR = Path(__file__).parent / "templates"

# No inline script or style anywhere; htmx and the console's own script are files under /console.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
        "object-src 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}


def htmx_dir() -> Path:
    """htmx's files as the django-js-lib-htmx wheel installs them (no Django imported)."""
    spec = importlib.util.find_spec("js_lib_htmx")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("django-js-lib-htmx is not installed: run `make install`")
    return Path(next(iter(spec.submodule_search_locations))) / "static" / "htmx"


async def security_headers(request: Request, response: HTTPResponse) -> None:
    """The console's headers on every answer under /console, pages, files and errors alike."""
    if not request.path.startswith(URL_PREFIX):
        return
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if "text/html" in (response.content_type or ""):
        # Pages show money and personal data: never kept by a shared cache or the back button.
        response.headers.setdefault("Cache-Control", "no-store")


def install_console(app: Sanic) -> None:
    """Mount the console's pages and files, and its headers."""
    app.blueprint(console_blueprint())
    # On the app, not on the (module-level) blueprints: a middleware added to a blueprint
    # already registered with an earlier app re-registers its routes there.
    app.register_middleware(security_headers, "response")


def console_blueprint() -> Blueprint:
    from admin_api.console.pages import (
        accounts,
        anomalies,
        auth,
        awards,
        caps,
        catalog,
        disputes,
        exports,
        incentives,
        internal,
        leaderboard,
        ledger,
        money_pages,
        programs,
        promoters,
        promotion,
        reports,
        rule_sets,
        tiers,
        webhooks,
        withdrawals,
    )

    static = Blueprint("console_static")
    static.static("/static/htmx.min.js", htmx_dir() / "htmx.min.js", name="htmx")
    static.static("/static", STATIC_DIR, name="assets")
    group = Blueprint.group(
        static,
        auth.bp,
        promoters.bp,
        money_pages.bp,
        withdrawals.bp,
        anomalies.bp,
        accounts.bp,
        programs.bp,
        rule_sets.bp,
        catalog.bp,
        ledger.bp,
        disputes.bp,
        exports.bp,
        webhooks.bp,
        promotion.bp,
        reports.bp,
        tiers.bp,
        incentives.bp,
        caps.bp,
        awards.bp,
        leaderboard.bp,
        internal.bp,
        url_prefix=URL_PREFIX,
    )

    return group
