"""Webhooks in the console: a new endpoint's secret shown once, a refused URL explained, the
delivery log with a delivery's attempts, and finance kept out."""

from __future__ import annotations

from sanic import Sanic

from server.services.promoters.status_changes import change_promoter_status
from tests.api.console.client import signed_in
from tests.order_builders import ADMIN, promoter, shop


async def test_staff_add_an_endpoint_and_read_its_delivery_log(app: Sanic) -> None:
    program = await shop()
    staff = await signed_in(app, "staff", username="hook_staff")
    await staff.get(f"/console/webhooks?program_id={program.id}")

    created = await staff.post(
        f"/console/programs/{program.id}/webhooks",
        {"url": "https://93.184.216.34/hooks", "event_types": "promoter.suspended"},
    )

    assert created.status_code == 200, created.text
    assert "whsec_" in created.text
    someone = await promoter(program)
    await change_promoter_status(promoter_id=someone.id, action="suspend", reason="x", actor=ADMIN)
    listed = await staff.get(f"/console/webhooks?program_id={program.id}")
    assert "whsec_" not in listed.text
    assert "promoter.suspended" in listed.text
    assert f"/console/programs/{program.id}/webhook-deliveries/" in listed.text


async def test_a_refused_url_shows_why(app: Sanic) -> None:
    program = await shop()
    staff = await signed_in(app, "staff", username="hook_refused")
    await staff.get(f"/console/webhooks?program_id={program.id}")

    refused = await staff.post(
        f"/console/programs/{program.id}/webhooks",
        {"url": "https://10.0.0.1/hooks", "event_types": "promoter.applied"},
    )

    assert refused.status_code == 422
    assert "webhook_url_refused" in refused.text


async def test_finance_do_not_reach_the_webhooks_page(app: Sanic) -> None:
    program = await shop()
    finance = await signed_in(app, "finance", username="hook_finance")
    page = await finance.get(f"/console/webhooks?program_id={program.id}")
    assert page.status_code == 403
