"""The delivery log staff read (deliveries, their attempts) and replaying a delivery."""

from __future__ import annotations

from typing import Any

from tortoise.transactions import in_transaction

from server import clock
from server.auth import Principal
from server.config import Settings
from server.domain.errors import Conflict, NotFound, ValidationFailed
from server.domain.pagination import check_page_limit, next_cursor
from server.domain.webhooks.delivery import DELIVERY_STATUSES, ENABLED, PENDING
from server.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookMessage
from server.services.access.audit import record_action
from server.services.webhooks.delivery import attempt_delivery


def _not_found() -> NotFound:
    return NotFound("no such webhook delivery in this program", code="webhook_delivery_not_found")


async def list_deliveries(
    *,
    program_id: int,
    endpoint_id: int | None = None,
    status: str | None = None,
    cursor: int | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    """A program's deliveries, newest first (`cursor` is the last id), with their event."""
    check_page_limit(limit)
    if status is not None and status not in DELIVERY_STATUSES:
        raise ValidationFailed(
            "unknown delivery status",
            code="invalid_status",
            fields={"status": " | ".join(DELIVERY_STATUSES)},
        )
    query = WebhookDelivery.filter(program_id=program_id)
    if endpoint_id is not None:
        query = query.filter(endpoint_id=endpoint_id)
    if status is not None:
        query = query.filter(status=status)
    if cursor is not None:
        query = query.filter(id__lt=cursor)
    rows = await query.order_by("-id").limit(limit).prefetch_related("message")
    return {
        "items": [serialize_delivery(row) for row in rows],
        "next_cursor": next_cursor([row.id for row in rows], limit),
    }


async def delivery_detail(*, program_id: int, delivery_id: int) -> dict[str, Any]:
    """One delivery, its message's payload and every attempt, oldest first."""
    delivery = (
        await WebhookDelivery.filter(id=delivery_id, program_id=program_id)
        .prefetch_related("message")
        .first()
    )
    if delivery is None:
        raise _not_found()
    attempts = await WebhookAttempt.filter(delivery_id=delivery.id).order_by("id")
    return {
        **serialize_delivery(delivery),
        "payload": delivery.message.payload,
        "attempts": [
            {
                "id": a.id,
                "attempted_at": a.attempted_at,
                "status_code": a.status_code,
                "duration_ms": a.duration_ms,
                "error": a.error,
            }
            for a in attempts
        ],
    }


async def replay_delivery(
    *,
    program_id: int,
    delivery_id: int,
    actor: Principal,
    settings: Settings,
    request_id: str | None = None,
) -> dict[str, Any]:
    """Send a delivery again now with a fresh retry schedule (audited); its detail after."""
    async with in_transaction() as conn:
        delivery = (
            await WebhookDelivery.filter(id=delivery_id, program_id=program_id)
            .using_db(conn)
            .select_for_update()
            .first()
        )
        if delivery is None:
            raise _not_found()
        endpoint = await WebhookEndpoint.get(id=delivery.endpoint_id).using_db(conn)  # type: ignore[attr-defined]
        if endpoint.status != ENABLED:
            raise Conflict(
                "the endpoint is disabled: enable it first", code="webhook_endpoint_disabled"
            )
        await (
            WebhookDelivery.filter(id=delivery.id)
            .using_db(conn)
            .update(status=PENDING, attempts=0, next_attempt_at=clock.now())
        )
        await record_action(
            actor=actor,
            action="webhook_delivery.replay",
            target_kind="webhook_delivery",
            target_id=delivery.id,
            program_id=program_id,
            details={"endpoint_id": endpoint.id, "previous_status": delivery.status},
            request_id=request_id,
            using_db=conn,
        )
    await attempt_delivery(delivery_id=delivery.id, attempts=0, settings=settings)
    return await delivery_detail(program_id=program_id, delivery_id=delivery.id)


def serialize_delivery(delivery: WebhookDelivery) -> dict[str, Any]:
    message: WebhookMessage = delivery.message
    return {
        "id": delivery.id,
        "endpoint_id": delivery.endpoint_id,  # type: ignore[attr-defined]
        "program_id": delivery.program_id,
        "message_id": message.message_id,
        "event_type": delivery.event_type,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "next_attempt_at": delivery.next_attempt_at if delivery.status == PENDING else None,
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "delivered_at": delivery.delivered_at,
        "created_at": delivery.created_at,
    }
