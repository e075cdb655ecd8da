"""The webhook admin API: a secret shown once, refusals as coded 422s, staff-only routes, the
delivery log and a replay that reaches a real receiver."""

from __future__ import annotations

import dataclasses

from sanic import Sanic

from server.services.webhooks.delivery import deliver_due_webhooks
from tests.api.conftest import Api
from tests.order_builders import promoter, shop
from tests.webhook_receiver import running_receiver

KEY = {"Idempotency-Key": "3c1f7d0e-1a2b-4c3d-8e9f-0a1b2c3d4e5f"}


async def test_an_endpoint_secret_is_shown_once_and_never_listed(api: Api) -> None:
    program = await shop()
    token = await api.staff_token("staff")
    path = f"/admin/v1/programs/{program.id}/webhook-endpoints"

    created = await api.post(
        path,
        token=token,
        headers=KEY,
        json={"url": "https://93.184.216.34/hooks", "event_types": ["promoter.applied"]},
    )
    listed = await api.get(path, token=token)

    assert created.status == 201, created.text
    assert created.json["secret"].startswith("whsec_")
    assert listed.status == 200
    assert [item["id"] for item in listed.json["items"]] == [created.json["id"]]
    assert "secret" not in listed.json["items"][0]
    assert created.json["secret"] not in listed.text


async def test_a_private_address_is_a_coded_422(api: Api) -> None:
    program = await shop()
    refused = await api.post(
        f"/admin/v1/programs/{program.id}/webhook-endpoints",
        token=await api.staff_token("admin"),
        headers=KEY,
        json={"url": "https://169.254.169.254/latest", "event_types": ["promoter.applied"]},
    )
    assert refused.status == 422
    assert refused.json["error"]["code"] == "webhook_url_refused"


async def test_finance_cannot_manage_webhooks(api: Api) -> None:
    program = await shop()
    refused = await api.get(
        f"/admin/v1/programs/{program.id}/webhook-endpoints",
        token=await api.staff_token("finance"),
    )
    assert refused.status == 403


async def test_staff_read_the_delivery_log_and_replay_a_delivery(api: Api, app: Sanic) -> None:
    app.ctx.settings = dataclasses.replace(
        app.ctx.settings, webhooks_allow_private=True, webhook_timeout_seconds=1
    )
    program = await shop()
    token = await api.staff_token("staff")
    with running_receiver() as receiver:
        created = await api.post(
            f"/admin/v1/programs/{program.id}/webhook-endpoints",
            token=token,
            headers=KEY,
            json={"url": receiver.url, "event_types": ["promoter.suspended"]},
        )
        assert created.status == 201, created.text
        someone = await promoter(program)
        suspended = await api.post(
            f"/admin/v1/promoters/{someone.id}/suspend",
            token=token,
            json={"reason": "testing"},
        )
        assert suspended.status == 200, suspended.text
        receiver.answer((500, 0.0))
        await deliver_due_webhooks(settings=app.ctx.settings)

        log = await api.get(f"/admin/v1/programs/{program.id}/webhook-deliveries", token=token)
        [delivery] = log.json["items"]
        replayed = await api.post(
            f"/admin/v1/programs/{program.id}/webhook-deliveries/{delivery['id']}/replay",
            token=token,
        )

    assert (delivery["event_type"], delivery["status"]) == ("promoter.suspended", "pending")
    assert replayed.status == 200, replayed.text
    assert replayed.json["status"] == "succeeded"
    assert [a["status_code"] for a in replayed.json["attempts"]] == [500, 204]
    payload = receiver.verified(created.json["secret"])
    assert payload["data"]["promoter_id"] == someone.id
