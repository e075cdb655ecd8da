"""Rendering console pages: the Jinja2 environment, the layout's context and the menu."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, pass_context
from jinja2.runtime import Context
from sanic import Request
from sanic.response import HTTPResponse
from sanic_ext import render

from admin_api.console import i18n
from admin_api.console.guard import install_error_page
from admin_api.console.labels import ERROR_MESSAGES, LABELS, N_, NOTICES
from server.auth import ROLES_ADMIN, ROLES_BACKOFFICE, ROLES_FINANCE, ROLES_STAFF
from server.domain.errors import FenxiaoError

TEMPLATES = Path(__file__).parent / "templates"
DEFAULT_TIME_ZONE = "Asia/Shanghai"


@dataclass(frozen=True)
class MenuItem:
    path: str
    label: str  # an English msgid, translated in the layout
    roles: tuple[str, ...]


# The pages in menu order; an item shows only to the roles its page admits.
MENU: tuple[MenuItem, ...] = (
    MenuItem("/console/dashboard", N_("Dashboard"), ROLES_BACKOFFICE),
    MenuItem("/console/promoters", N_("Promoters"), ROLES_BACKOFFICE),
    MenuItem("/console/applications", N_("Applications"), ROLES_STAFF),
    MenuItem("/console/orders", N_("Orders"), ROLES_BACKOFFICE),
    MenuItem("/console/commissions", N_("Commissions"), ROLES_BACKOFFICE),
    MenuItem("/console/commissions/review", N_("Commission review"), ROLES_STAFF),
    MenuItem("/console/withdrawals", N_("Withdrawals"), ROLES_BACKOFFICE),
    MenuItem("/console/payouts", N_("Payout batches"), ROLES_BACKOFFICE),
    MenuItem("/console/adjustments", N_("Adjustments"), ROLES_BACKOFFICE),
    MenuItem("/console/statements", N_("Statements"), ROLES_FINANCE),
    MenuItem("/console/disputes", N_("Disputes"), ROLES_BACKOFFICE),
    MenuItem("/console/anomalies", N_("Anomalies"), ROLES_BACKOFFICE),
    MenuItem("/console/programs", N_("Programs"), ROLES_BACKOFFICE),
    MenuItem("/console/catalog/products", N_("Catalog"), ROLES_BACKOFFICE),
    MenuItem("/console/webhooks", N_("Webhooks"), ROLES_STAFF),
    MenuItem("/console/posters", N_("Poster templates"), ROLES_BACKOFFICE),
    MenuItem("/console/materials", N_("Materials"), ROLES_BACKOFFICE),
    MenuItem("/console/announcements", N_("Announcements"), ROLES_BACKOFFICE),
    MenuItem("/console/caps", N_("Period caps"), ROLES_BACKOFFICE),
    MenuItem("/console/tiers", N_("Tiers"), ROLES_BACKOFFICE),
    MenuItem("/console/incentives", N_("Boosts and bonuses"), ROLES_BACKOFFICE),
    MenuItem("/console/bonus-awards", N_("Bonus awards"), ROLES_BACKOFFICE),
    MenuItem("/console/leaderboard", N_("Leaderboard"), ROLES_BACKOFFICE),
    MenuItem("/console/sub-accounts", N_("Sub-accounts"), ROLES_BACKOFFICE),
    MenuItem("/console/spend", N_("Spend"), ROLES_BACKOFFICE),
    MenuItem("/console/roi", N_("ROI"), ROLES_BACKOFFICE),
    MenuItem("/console/reports/customers", N_("Customers"), ROLES_BACKOFFICE),
    MenuItem("/console/audit", N_("Audit log"), ROLES_BACKOFFICE),
    MenuItem("/console/staff", N_("Staff accounts"), ROLES_ADMIN),
)


@pass_context
def _money(context: Context, amount: Decimal | str | None, currency: str) -> str:
    return i18n.money(amount, currency, context.get("locale", i18n.DEFAULT_LOCALE))


@pass_context
def _when(context: Context, value: Any) -> str:
    time_zone = context.get("time_zone") or DEFAULT_TIME_ZONE
    return i18n.moment(value, time_zone, context.get("locale", i18n.DEFAULT_LOCALE))


@pass_context
def _number(context: Context, value: Any) -> str:
    return i18n.number(value, context.get("locale", i18n.DEFAULT_LOCALE))


@pass_context
def _rate(context: Context, value: Any, signed: bool = False) -> str:
    return i18n.percent(value, context.get("locale", i18n.DEFAULT_LOCALE), signed=signed)


def _plain(value: Any) -> str:
    """A stored JSON value (evidence, explanations) as compact text."""
    if value is None:
        return "—"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def build_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        enable_async=True,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters.update(money=_money, when=_when, num=_number, plain=_plain, rate=_rate)
    env.globals.update(labels=LABELS, error_messages=ERROR_MESSAGES)
    return env


ENVIRONMENT = build_environment()


def locale_of(request: Request) -> str:
    return i18n.pick_locale(request.cookies.get(i18n.LANG_COOKIE))


def menu_for(roles: frozenset[str]) -> list[MenuItem]:
    return [item for item in MENU if roles & set(item.roles)]


def may(request: Request, roles: tuple[str, ...]) -> bool:
    """Whether the signed-in account holds one of `roles` (to show an action or not)."""
    principal = getattr(request.ctx, "principal", None)
    return principal is not None and bool(principal.roles & set(roles))


async def page(
    request: Request, template: str, *, status: int = 200, **context: Any
) -> HTTPResponse:
    """Render a console template with the layout's context (locale, menu, CSRF token)."""
    session = getattr(request.ctx, "console", None)
    principal = session.principal if session else None
    program = context.get("program")
    base: dict[str, Any] = {
        "locale": locale_of(request),
        "locales": i18n.LOCALES,
        "principal": principal,
        "csrf_token": session.csrf_token if session else "",
        "menu": menu_for(principal.roles) if principal else [],
        "path": request.path,
        "full_path": request.path + (f"?{request.query_string}" if request.query_string else ""),
        "time_zone": getattr(program, "time_zone", None) or DEFAULT_TIME_ZONE,
        "roles_staff": ROLES_STAFF,
        "roles_finance": ROLES_FINANCE,
        "roles_admin": ROLES_ADMIN,
        "may": lambda roles: may(request, roles),
        "fragment": bool(request.headers.get("hx-request")),
        "notice": NOTICES.get(request.args.get("notice", "")),
        "query_without_cursor": urlencode(
            [(k, v) for k, values in request.args.items() for v in values if k != "cursor"]
        ),
    }
    return await render(
        template,
        status=status,
        app=request.app,
        environment=ENVIRONMENT,
        context={**base, **context},
    )


async def error_page(request: Request, error: FenxiaoError) -> HTTPResponse:
    """A coded error as a page (or, for htmx, as the fragment that replaces the target)."""
    template = "_error.html" if request.headers.get("hx-request") else "error.html"
    return await page(request, template, status=error.status_code, error=error)


install_error_page(error_page)
