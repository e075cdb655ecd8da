"""Delivering the outbox: claim due deliveries, sign and POST each (short timeout, SSRF guard
after DNS), log every attempt, retry with backoff and jitter, and disable an endpoint failing
DISABLE_AFTER_FAILURES times in a row (audited, so staff see it)."""

from __future__ import annotations

import asyncio
import json
import logging
import random
from datetime import timedelta
from typing import Any

from tortoise.expressions import F
from tortoise.transactions import in_transaction

from server import clock
from server.config import Settings
from server.domain.errors import FenxiaoError
from server.domain.webhooks.delivery import (
    DISABLE_AFTER_FAILURES,
    ENABLED,
    FAILED,
    PENDING,
    SUCCEEDED,
    disables_endpoint,
    gives_up,
    is_success,
    retry_delay,
    signed_headers,
)
from server.integrations.webhook_sender import SendResult, post
from server.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookMessage
from server.services.webhooks.endpoints import live_secrets, set_endpoint_status
from server.services.webhooks.targets import checked_target

log = logging.getLogger("fenxiao.webhooks")

# Deliveries one run sends at most, and how many are in flight at once.
BATCH = 200
CONCURRENCY = 8
# While one sender has a delivery, others skip it; a sender that died lets it come due again.
LEASE = timedelta(minutes=2)
MAX_ERROR = 255


def body_of(message: WebhookMessage) -> str:
    """The exact text that is signed and sent."""
    return json.dumps(message.payload, ensure_ascii=False, separators=(",", ":"))


async def _claim(delivery_id: int, attempts: int) -> bool:
    claimed = await WebhookDelivery.filter(
        id=delivery_id, status=PENDING, attempts=attempts
    ).update(attempts=F("attempts") + 1, next_attempt_at=clock.now() + LEASE)
    return claimed == 1


async def _send(
    delivery: WebhookDelivery, endpoint: WebhookEndpoint, settings: Settings
) -> SendResult:
    message = await WebhookMessage.get(id=delivery.message_id)  # type: ignore[attr-defined]
    try:
        target = await checked_target(endpoint.url, settings=settings)
    except FenxiaoError as exc:
        return SendResult(None, 0, f"refused: {exc.fields.get('url', exc.message)}")
    body = body_of(message)
    now = clock.now()
    headers = signed_headers(
        live_secrets(endpoint, now=now), message_id=message.message_id, at=now, body=body
    )
    return await post(
        target.url,
        addresses=target.addresses,
        port=target.port,
        headers=headers,
        body=body.encode("utf-8"),
        timeout=settings.webhook_timeout_seconds,
    )


async def attempt_delivery(*, delivery_id: int, attempts: int, settings: Settings) -> str:
    """One attempt of a due delivery: succeeded, retrying, failed or skipped (another has it)."""
    if not await _claim(delivery_id, attempts):
        return "skipped"
    delivery = await WebhookDelivery.get(id=delivery_id)
    endpoint = await WebhookEndpoint.get(id=delivery.endpoint_id)  # type: ignore[attr-defined]
    started = clock.now()
    if endpoint.status != ENABLED:
        result = SendResult(None, 0, f"endpoint {endpoint.status}")
    else:
        result = await _send(delivery, endpoint, settings)
    return await _record(
        delivery, endpoint, result, started=started, final=endpoint.status != ENABLED
    )


async def _record(
    delivery: WebhookDelivery,
    endpoint: WebhookEndpoint,
    result: SendResult,
    *,
    started: Any,
    final: bool,
) -> str:
    ok = is_success(result.status_code)
    error = result.error or (None if ok else f"HTTP {result.status_code}")
    async with in_transaction() as conn:
        await WebhookAttempt.create(
            delivery_id=delivery.id,
            attempted_at=started,
            status_code=result.status_code,
            duration_ms=result.duration_ms,
            error=error[:MAX_ERROR] if error else None,
            using_db=conn,
        )
        update: dict[str, Any] = {"last_status_code": result.status_code, "last_error": error}
        if ok:
            outcome = SUCCEEDED
            update.update(status=SUCCEEDED, delivered_at=clock.now())
        elif final or gives_up(delivery.attempts):
            outcome = FAILED
            update.update(status=FAILED)
        else:
            outcome = "retrying"
            delay = retry_delay(delivery.attempts, jitter=random.random())
            update.update(next_attempt_at=clock.now() + delay)
        await WebhookDelivery.filter(id=delivery.id).using_db(conn).update(**update)
        if final:
            return outcome
        streak = F("consecutive_failures") + 1 if not ok else 0
        await (
            WebhookEndpoint.filter(id=endpoint.id)
            .using_db(conn)
            .update(consecutive_failures=streak)
        )
        if not ok:
            await _disable_if_failing(endpoint.id, conn)
    return outcome


async def _disable_if_failing(endpoint_id: int, conn: Any) -> None:
    endpoint = await WebhookEndpoint.filter(id=endpoint_id).using_db(conn).select_for_update().get()
    if endpoint.status != ENABLED or not disables_endpoint(endpoint.consecutive_failures):
        return
    log.error(
        "webhook endpoint %s (%s) disabled: %s attempts failed in a row",
        endpoint.id,
        endpoint.url,
        endpoint.consecutive_failures,
    )
    await set_endpoint_status(
        program_id=endpoint.program_id,  # type: ignore[attr-defined]
        endpoint_id=endpoint.id,
        enabled=False,
        reason=f"{DISABLE_AFTER_FAILURES} attempts failed in a row",
        actor=None,
        conn=conn,
    )


async def deliver_due_webhooks(*, settings: Settings, limit: int = BATCH) -> dict[str, int]:
    """Attempt every due delivery (a few at a time); how many ended which way."""
    due = (
        await WebhookDelivery.filter(status=PENDING, next_attempt_at__lte=clock.now())
        .order_by("next_attempt_at", "id")
        .limit(limit)
        .values_list("id", "attempts")
    )
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(delivery_id: int, attempts: int) -> str:
        async with gate:
            try:
                return await attempt_delivery(
                    delivery_id=delivery_id, attempts=attempts, settings=settings
                )
            except Exception:  # one broken delivery must not stop the others
                log.exception("webhook delivery %s: unexpected error", delivery_id)
                return "errors"

    summary = {"succeeded": 0, "retrying": 0, "failed": 0, "skipped": 0, "errors": 0}
    for outcome in await asyncio.gather(*(one(i, a) for i, a in due)):
        summary[outcome] += 1
    return summary
