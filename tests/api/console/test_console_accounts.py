"""Staff accounts (admin) and the audit log in the console."""

from __future__ import annotations

from sanic import Sanic

from server.models import AuditLog, StaffUser
from tests.api.console.client import Console, signed_in
from tests.order_builders import promoter, shop

PASSWORD = "a-long-enough-password"


async def test_an_admin_creates_an_account_that_can_then_sign_in(app: Sanic) -> None:
    await shop()
    admin = await signed_in(app, "admin", username="console_admin")
    await admin.get("/console/staff")
    created = await admin.post(
        "/console/staff",
        {"username": "new_finance", "password": PASSWORD, "roles": ["finance"]},
    )
    assert created.status_code == 303
    newcomer = Console(app)
    assert (await newcomer.sign_in("new_finance", PASSWORD)).status_code == 303
    assert await AuditLog.exists(action="staff.create", actor_id=(await _id("console_admin")))
    await admin.close()
    await newcomer.close()


async def test_a_bad_username_is_refused_by_the_apis_own_rules(app: Sanic) -> None:
    admin = await signed_in(app, "admin", username="strict_admin")
    await admin.get("/console/staff")
    refused = await admin.post(
        "/console/staff", {"username": "<b>x</b>", "password": PASSWORD, "roles": ["staff"]}
    )
    assert refused.status_code == 422
    assert not await StaffUser.exists(username="<b>x</b>")
    await admin.close()


async def test_disabling_an_account_signs_it_out_of_the_console(app: Sanic) -> None:
    await shop()
    admin = await signed_in(app, "admin", username="boss")
    victim = await signed_in(app, "staff", username="leaver")
    await admin.get("/console/staff")
    response = await admin.post(f"/console/staff/{await _id('leaver')}", {"is_active": "0"})
    assert response.status_code == 303
    assert (await victim.get("/console/promoters")).status_code == 303
    await admin.close()
    await victim.close()


async def test_staff_cannot_open_the_accounts_page(app: Sanic) -> None:
    staff = await signed_in(app, "staff", username="curious")
    assert (await staff.get("/console/staff")).status_code == 403
    await staff.close()


async def _id(username: str) -> int:
    return (await StaffUser.get(username=username)).id


async def test_the_audit_log_shows_a_decision_made_in_the_console(app: Sanic) -> None:
    program = await shop()
    applicant = await promoter(program, status="applied")
    console = await signed_in(app, "staff", username="audited")
    await console.get(f"/console/promoters/{applicant.id}")
    await console.post(f"/console/promoters/{applicant.id}/status/approve")
    log = await console.get(f"/console/audit?program_id={program.id}&target_kind=promoter")
    assert log.status_code == 200
    assert "promoter.approve" in log.text and f"promoter #{applicant.id}" in log.text
    await console.close()
