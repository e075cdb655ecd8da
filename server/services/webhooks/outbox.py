"""The webhook outbox: each change writes its event, one delivery per subscribed endpoint, in
the change's own transaction. Nothing here makes a network call, so the money path only ever
pays for these inserts (and one read of the endpoints when nobody subscribed)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from server import clock
from server.domain.webhooks import events
from server.domain.webhooks.delivery import ENABLED, MESSAGE_ID_PREFIX, PENDING
from server.models import (
    Commission,
    PayoutBatch,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookMessage,
    Withdrawal,
)

# Each event type's payload shape (server/domain/webhooks/events.py documents them).
DATA: dict[str, Callable[..., dict[str, Any]]] = {
    events.PROMOTER_APPLIED: events.promoter_data,
    events.PROMOTER_APPROVED: events.promoter_data,
    events.PROMOTER_SUSPENDED: events.promoter_data,
    events.COMMISSION_CREATED: events.commission_data,
    events.COMMISSION_SETTLED: events.commission_data,
    events.WITHDRAWAL_APPROVED: events.withdrawal_data,
    events.WITHDRAWAL_PAID: events.withdrawal_data,
    events.WITHDRAWAL_FAILED: events.withdrawal_data,
    events.PAYOUT_BATCH_PAID: events.payout_batch_data,
    events.ANOMALY_OPENED: events.anomaly_data,
    events.DISPUTE_OPENED: events.dispute_data,
}
_ENDED_WITHDRAWALS = ("paid", "rejected", "released")
# How far back the delivery job looks for a paid batch whose event was not recorded.
BATCH_SWEEP_WINDOW = timedelta(days=90)


async def _subscribers(
    event_type: str, program_ids: Iterable[int], conn: BaseDBAsyncClient
) -> dict[int, list[int]]:
    """Endpoint ids subscribed to `event_type`, by program."""
    rows = (
        await WebhookEndpoint.filter(
            program_id__in=sorted(set(program_ids)), status=ENABLED, deleted_at=None
        )
        .using_db(conn)
        .values_list("id", "program_id", "event_types")
    )
    found: dict[int, list[int]] = {}
    for endpoint_id, program_id, wanted in rows:
        if event_type in (wanted or []):
            found.setdefault(program_id, []).append(endpoint_id)
    return found


async def _write(
    event_type: str,
    datas: list[dict[str, Any]],
    endpoints: dict[int, list[int]],
    conn: BaseDBAsyncClient,
) -> int:
    now = clock.now()
    messages = [
        WebhookMessage(
            message_id=MESSAGE_ID_PREFIX + uuid.uuid4().hex,
            program_id=data["program_id"],
            event_type=event_type,
            payload=events.envelope(event_type, data=data, at=now),
            created_at=now,
        )
        for data in datas
        if data["program_id"] in endpoints
    ]
    if not messages:
        return 0
    await WebhookMessage.bulk_create(messages, using_db=conn)
    ids = dict(
        await WebhookMessage.filter(message_id__in=[m.message_id for m in messages])
        .using_db(conn)
        .values_list("message_id", "id")
    )
    deliveries = [
        WebhookDelivery(
            message_id=ids[message.message_id],
            endpoint_id=endpoint_id,
            program_id=message.program_id,
            event_type=event_type,
            status=PENDING,
            next_attempt_at=now,
            created_at=now,
        )
        for message in messages
        for endpoint_id in endpoints[message.program_id]
    ]
    await WebhookDelivery.bulk_create(deliveries, using_db=conn)
    return len(messages)


async def record_event(
    event_type: str, record: Any, *, conn: BaseDBAsyncClient, **details: Any
) -> int:
    """Queue `event_type` about `record` for its program's subscribers; messages written."""
    endpoints = await _subscribers(event_type, [record.program_id], conn)
    if not endpoints:
        return 0
    return await _write(event_type, [DATA[event_type](record, **details)], endpoints, conn)


async def record_promoter_event(promoter: Any, *, action: str, conn: BaseDBAsyncClient) -> int:
    """The event a promoter life-cycle action is, if it is one (apply, approve, suspend)."""
    event_type = events.PROMOTER_ACTION_EVENTS.get(action)
    return await record_event(event_type, promoter, conn=conn) if event_type else 0


async def record_commission_events(
    event_type: str, commission_ids: Iterable[int], *, reason: str, conn: BaseDBAsyncClient
) -> int:
    """`event_type` for each of many commissions (created by an order, settled by a run)."""
    ids = sorted(set(commission_ids))
    if not ids:
        return 0
    subscribed = await WebhookEndpoint.filter(status=ENABLED, deleted_at=None).using_db(conn)
    program_ids = {e.program_id for e in subscribed if event_type in (e.event_types or [])}  # type: ignore[attr-defined]
    if not program_ids:
        return 0
    commissions = await Commission.filter(id__in=ids, program_id__in=sorted(program_ids)).using_db(
        conn
    )
    endpoints = await _subscribers(event_type, program_ids, conn)
    datas = [
        events.commission_data(c, reason=reason) for c in sorted(commissions, key=lambda c: c.id)
    ]
    return await _write(event_type, datas, endpoints, conn)


async def record_commissions_created(
    commission_ids: Iterable[int], *, conn: BaseDBAsyncClient
) -> int:
    """commission.created for the commissions an order just earned."""
    return await record_commission_events(
        events.COMMISSION_CREATED, commission_ids, reason="order_paid", conn=conn
    )


async def record_commissions_settled(
    commission_ids: Iterable[int], *, conn: BaseDBAsyncClient
) -> int:
    """commission.settled for the commissions a settlement run credited."""
    return await record_commission_events(
        events.COMMISSION_SETTLED, commission_ids, reason="settlement", conn=conn
    )


async def record_clawback(
    commission: Any, *, amount_after: Decimal, reason: str, conn: BaseDBAsyncClient
) -> int:
    """commission.created with the (negative) change when a refund or cancellation lowers it."""
    change = amount_after - commission.amount
    if change >= 0:
        return 0
    return await record_event(
        events.COMMISSION_CREATED,
        commission,
        conn=conn,
        amount=change,
        amount_now=amount_after,
        reason=reason,
    )


async def record_anomaly_opened(anomaly: Any, *, conn: BaseDBAsyncClient) -> int:
    """anomaly.opened."""
    return await record_event(events.ANOMALY_OPENED, anomaly, conn=conn)


async def record_dispute_opened(dispute: Any, *, conn: BaseDBAsyncClient) -> int:
    """dispute.opened."""
    return await record_event(events.DISPUTE_OPENED, dispute, conn=conn)


async def record_withdrawal_event(withdrawal: Withdrawal, *, conn: BaseDBAsyncClient) -> int:
    """The event a withdrawal's new status is (approved, paid, failed), and the batch's end."""
    event_type = events.WITHDRAWAL_STATUS_EVENTS.get(withdrawal.status)
    if event_type is None:
        return 0
    written = await record_event(event_type, withdrawal, conn=conn)
    if withdrawal.status == "paid" and withdrawal.batch_id is not None:
        written += await _record_batch_paid(withdrawal, conn)
    return written


async def _record_batch_paid(withdrawal: Withdrawal, conn: BaseDBAsyncClient) -> int:
    # The batch is paid once none of its payouts is still on its way. Two payouts ending in
    # concurrent transactions may each still see the other open: complete_paid_batches, run by
    # the delivery job, records those batches a moment later.
    open_ones = (
        await Withdrawal.filter(batch_id=withdrawal.batch_id)
        .exclude(id=withdrawal.id)
        .exclude(status__in=_ENDED_WITHDRAWALS)
        .using_db(conn)
        .exists()
    )
    if open_ones:
        return 0
    return await _complete_batch(withdrawal.batch_id, conn)


async def _complete_batch(batch_id: int, conn: BaseDBAsyncClient) -> int:
    # The conditional update lets exactly one transaction complete a batch.
    unpaid = PayoutBatch.filter(id=batch_id, paid_at=None).using_db(conn)
    completed = await unpaid.update(paid_at=clock.now())
    if completed != 1:
        return 0
    batch = await PayoutBatch.get(id=batch_id).using_db(conn)
    return await record_event(events.PAYOUT_BATCH_PAID, batch, conn=conn)


async def complete_paid_batches(*, now: datetime, window: timedelta = BATCH_SWEEP_WINDOW) -> int:
    """Record payout_batch.paid for recent batches that ended without it; how many."""
    candidates = await PayoutBatch.filter(paid_at=None, created_at__gte=now - window).values_list(
        "id", flat=True
    )
    if not candidates:
        return 0
    still_open = set(
        await Withdrawal.filter(batch_id__in=candidates)
        .exclude(status__in=_ENDED_WITHDRAWALS)
        .values_list("batch_id", flat=True)
    )
    with_paid = set(
        await Withdrawal.filter(batch_id__in=candidates, status="paid").values_list(
            "batch_id", flat=True
        )
    )
    completed = 0
    for batch_id in sorted(with_paid - still_open):
        async with in_transaction() as conn:
            completed += await _complete_batch(batch_id, conn)
    return completed
