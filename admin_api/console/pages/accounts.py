"""The audit log, and staff accounts (admin): create, change roles, disable or enable."""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from admin_api.audit import AuditQuery
from admin_api.auth import StaffCreate, create_staff_from
from admin_api.console.guard import console_route
from admin_api.console.labels import N_
from admin_api.console.pages.common import done, form_text, list_page
from admin_api.console.views import page
from server.auth import ROLES_ADMIN, ROLES_BACKOFFICE, STAFF_ROLES
from server.http import validate_body
from server.services.access import audit_queries
from server.services.access import staff as staff_service

bp = Blueprint("console_accounts")


@bp.get("/audit")
@console_route(*ROLES_BACKOFFICE)
async def audit_log(request: Request) -> HTTPResponse:
    return await list_page(
        request,
        AuditQuery,
        lambda query, _program_id: audit_queries.list_audit_entries(
            programs=request.ctx.principal.programs, **query.model_dump()
        ),
        heading=N_("Audit log"),
        template="audit/list.html",
        rows="audit/_rows.html",
    )


@bp.get("/staff")
@console_route(*ROLES_ADMIN)
async def staff_accounts(request: Request) -> HTTPResponse:
    accounts = await staff_service.staff_views(await staff_service.list_staff_users())
    return await page(request, "staff.html", accounts=accounts, all_roles=sorted(STAFF_ROLES))


def _roles(request: Request) -> list[str]:
    return [role for role in (request.form.getlist("roles") or []) if role]


@bp.post("/staff")
@console_route(*ROLES_ADMIN)
async def create_staff(request: Request) -> HTTPResponse:
    # The API's own schema: the same username pattern and lengths.
    body = validate_body(
        {
            "username": (request.form.get("username") or "").strip(),
            "password": request.form.get("password") or "",
            "roles": _roles(request),
            "display_name": (request.form.get("display_name") or "").strip(),
        },
        StaffCreate,
    )
    await create_staff_from(request, body)
    return done("/console/staff")


@bp.post("/staff/<staff_id:int>")
@console_route(*ROLES_ADMIN)
async def update_staff(request: Request, staff_id: int) -> HTTPResponse:
    """New roles, or the account switched off (its sessions end on their next click) or on."""
    active = form_text(request, "is_active")
    await staff_service.update_staff_user(
        staff_id=staff_id,
        roles=_roles(request) or None,
        is_active=None if active is None else active == "1",
        actor=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    return done("/console/staff")
