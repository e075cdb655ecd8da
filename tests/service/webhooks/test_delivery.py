"""Delivering webhooks to a real local receiver: signed so standardwebhooks verifies them
(both secrets during a rotation's grace), a slow receiver retried with backoff, an endpoint
failing 20 times in a row disabled with staff told, replay, and the SSRF guard at send time."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from standardwebhooks.webhooks import WebhookVerificationError

from jobs.recorded import run_recorded
from server import clock
from server.config import Settings
from server.domain.webhooks.delivery import DISABLE_AFTER_FAILURES, FIRST_RETRY, JITTER
from server.models import AuditLog, JobRun, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from server.services.webhooks.deliveries import delivery_detail, list_deliveries, replay_delivery
from server.services.webhooks.delivery import deliver_due_webhooks
from server.services.webhooks.endpoints import rotate_secret
from tests.order_builders import ADMIN
from tests.service.webhooks.conftest import approve_someone, hooked_program
from tests.webhook_receiver import Receiver


async def test_an_event_reaches_the_receiver_signed_as_standard_webhooks_verifies(
    db: str, hook_settings: Settings, receiver: Receiver
) -> None:
    hooked = await hooked_program(receiver.url, hook_settings)
    approved = await approve_someone(hooked.program)

    summary = await deliver_due_webhooks(settings=hook_settings)

    assert summary["succeeded"] == 1
    payload = receiver.verified(hooked.secret)
    assert payload["type"] == "promoter.approved"
    assert payload["data"]["promoter_id"] == approved.id
    assert payload["data"]["program_id"] == hooked.program.id
    assert payload["timestamp"].endswith("Z")
    headers = receiver.requests[0].headers
    assert headers["webhook-id"].startswith("msg_")
    delivery = await WebhookDelivery.get(endpoint_id=hooked.endpoint.id)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("succeeded", 1, 204)
    attempt = await WebhookAttempt.get(delivery_id=delivery.id)
    assert attempt.status_code == 204 and attempt.duration_ms >= 0


async def test_after_a_rotation_both_secrets_sign_until_the_grace_ends(
    db: str, hook_settings: Settings, receiver: Receiver
) -> None:
    hooked = await hooked_program(receiver.url, hook_settings)
    rotated = await rotate_secret(
        program_id=hooked.program.id,
        endpoint_id=hooked.endpoint.id,
        grace_seconds=3600,
        actor=ADMIN,
    )
    assert rotated.secret != hooked.secret and rotated.secret.startswith("whsec_")

    await approve_someone(hooked.program)
    await deliver_due_webhooks(settings=hook_settings)

    assert len(receiver.requests[0].headers["webhook-signature"].split(" ")) == 2
    assert receiver.verified(hooked.secret)["type"] == "promoter.approved"
    assert receiver.verified(rotated.secret)["type"] == "promoter.approved"

    # Past the grace only the new secret signs (the verifier's own clock is real time, so the
    # grace is ended by rotating again with none instead of moving the clock).
    newest = await rotate_secret(
        program_id=hooked.program.id, endpoint_id=hooked.endpoint.id, grace_seconds=0, actor=ADMIN
    )
    await approve_someone(hooked.program)
    await deliver_due_webhooks(settings=hook_settings)

    assert len(receiver.requests[1].headers["webhook-signature"].split(" ")) == 1
    assert receiver.verified(newest.secret, 1)["type"] == "promoter.approved"
    with pytest.raises(WebhookVerificationError):
        receiver.verified(rotated.secret, 1)


async def test_a_receiver_that_times_out_is_retried_later_with_backoff(
    db: str, hook_settings: Settings, receiver: Receiver
) -> None:
    hooked = await hooked_program(receiver.url, hook_settings)
    await approve_someone(hooked.program)
    receiver.answer((200, 2.5))  # longer than the 1 s timeout

    started = clock.now()
    summary = await deliver_due_webhooks(settings=hook_settings)

    assert summary["retrying"] == 1
    delivery = await WebhookDelivery.get(endpoint_id=hooked.endpoint.id)
    attempt = await WebhookAttempt.get(delivery_id=delivery.id)
    assert attempt.status_code is None and "timed out" in (attempt.error or "")
    assert 900 <= attempt.duration_ms < 2400
    wait = delivery.next_attempt_at - started
    assert FIRST_RETRY * (1 - JITTER) <= wait <= FIRST_RETRY * (1 + JITTER) + timedelta(seconds=5)
    # Not due yet: nothing is sent before the backoff has passed.
    assert (await deliver_due_webhooks(settings=hook_settings))["retrying"] == 0

    clock.advance(timedelta(minutes=2))
    second = await deliver_due_webhooks(settings=hook_settings)

    assert second["succeeded"] == 1
    delivery = await WebhookDelivery.get(id=delivery.id)
    assert (delivery.status, delivery.attempts) == ("succeeded", 2)
    assert receiver.verified(hooked.secret)["type"] == "promoter.approved"


async def test_an_endpoint_failing_twenty_times_in_a_row_is_disabled_and_staff_are_told(
    db: str, hook_settings: Settings, receiver: Receiver
) -> None:
    receiver.default = (500, 0.0)
    hooked = await hooked_program(receiver.url, hook_settings)
    await approve_someone(hooked.program)
    await approve_someone(hooked.program)
    await approve_someone(hooked.program)

    for _ in range(30):
        await deliver_due_webhooks(settings=hook_settings)
        clock.advance(timedelta(hours=25))

    endpoint = await WebhookEndpoint.get(id=hooked.endpoint.id)
    assert endpoint.status == "disabled"
    # Attempts already in flight when the 20th failed still count (deliveries run side by side).
    assert DISABLE_AFTER_FAILURES <= endpoint.consecutive_failures < DISABLE_AFTER_FAILURES + 3
    assert len(receiver.requests) == endpoint.consecutive_failures
    told = await AuditLog.filter(action="webhook_endpoint.disable", target_id=endpoint.id)
    assert len(told) == 1 and told[0].actor_kind == "system"
    assert "20 attempts failed in a row" in told[0].details["reason"]
    # Nothing more is sent to a disabled endpoint; what was waiting fails.
    assert await WebhookDelivery.filter(endpoint_id=endpoint.id, status="pending").count() == 0


async def test_a_failed_delivery_replayed_by_staff_is_sent_again_and_logged(
    db: str, hook_settings: Settings, receiver: Receiver
) -> None:
    hooked = await hooked_program(receiver.url, hook_settings)
    await approve_someone(hooked.program)
    receiver.answer((503, 0.0))
    await deliver_due_webhooks(settings=hook_settings)
    page = await list_deliveries(program_id=hooked.program.id, status="pending")
    delivery_id = page["items"][0]["id"]

    replayed = await replay_delivery(
        program_id=hooked.program.id, delivery_id=delivery_id, actor=ADMIN, settings=hook_settings
    )

    assert replayed["status"] == "succeeded"
    assert [a["status_code"] for a in replayed["attempts"]] == [503, 204]
    assert len(receiver.requests) == 2
    assert receiver.requests[0].headers["webhook-id"] == receiver.requests[1].headers["webhook-id"]
    assert await AuditLog.filter(action="webhook_delivery.replay", target_id=delivery_id).exists()


async def test_an_address_refused_at_send_time_is_never_called(
    db: str, hook_settings: Settings, receiver: Receiver
) -> None:
    hooked = await hooked_program(receiver.url, hook_settings)
    await approve_someone(hooked.program)
    strict = dataclasses.replace(hook_settings, webhooks_allow_private=False)

    await deliver_due_webhooks(settings=strict)

    assert receiver.requests == []
    delivery = await WebhookDelivery.get(endpoint_id=hooked.endpoint.id)
    detail = await delivery_detail(program_id=hooked.program.id, delivery_id=delivery.id)
    assert detail["status"] == "pending"
    assert detail["attempts"][0]["error"].startswith("refused:")


async def test_the_deliver_webhooks_job_sends_the_outbox(
    db: str, hook_settings: Settings, receiver: Receiver
) -> None:
    hooked = await hooked_program(receiver.url, hook_settings)
    await approve_someone(hooked.program)

    result = await run_recorded("deliver_webhooks", runner="inprocess", settings=hook_settings)

    assert result["succeeded"] == 1
    assert receiver.verified(hooked.secret)["type"] == "promoter.approved"
    assert (await JobRun.get(name="deliver_webhooks")).status == "succeeded"
