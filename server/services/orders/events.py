"""Order events from the store (S2S): recording, idempotency, dispatch, and held events.

One transaction per event, under the order's lock; see docs/design/orders.md.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from server import clock
from server.db import is_lock_conflict, is_mysql
from server.domain.errors import FenxiaoError, NotFound
from server.domain.orders.events import (
    EventOutcome,
    EventStatus,
    EventType,
    IncomingEvent,
    applied_outcome,
    event_id_conflict,
    outcome_status,
    pending_outcome,
    rejected_outcome,
)
from server.domain.orders.parsing import body_sha256, parse_event
from server.metrics import count_event
from server.models import Order, OrderEvent, Program
from server.services.ledger.postings import sql_write
from server.services.orders.lifecycle import apply_cancelled, apply_completed
from server.services.orders.paid import apply_paid
from server.services.orders.refund import apply_refunded
from server.services.orders.writes import insert_rows
from server.services.programs.cache import ProgramConfig, program_config
from server.services.reports.marks import mark_order

# MySQL counts an ON DUPLICATE KEY UPDATE that changed the row as 2 affected rows, an insert
# as 1; the update also takes the row's exclusive lock (see OrderLock).
_LOCK_MYSQL = (
    "INSERT INTO `order_locks` (`program_id`, `external_id`, `event_count`) VALUES (%s, %s, 1) "
    "ON DUPLICATE KEY UPDATE `event_count` = `event_count` + 1"
)
_LOCK_SQLITE = (
    'INSERT INTO "order_locks" ("program_id", "external_id", "event_count") VALUES (?, ?, 1) '
    'ON CONFLICT ("program_id", "external_id") DO NOTHING'
)
_COUNT_SQLITE = (
    'UPDATE "order_locks" SET "event_count" = "event_count" + 1 '
    'WHERE "program_id" = ? AND "external_id" = ?'
)
MAX_ATTEMPTS = 3

log = logging.getLogger("fenxiao.order_events")


@dataclass(frozen=True)
class RecordedOutcome:
    """The answer to one delivery; `replayed` when it was stored by an earlier delivery."""

    outcome: EventOutcome
    replayed: bool


@dataclass(frozen=True)
class _EventRow:
    """The stored event being applied: its row id and its order's external id."""

    id: int
    order_external_id: str


class _AlreadyRecorded(Exception):
    """A concurrent delivery of the same event id committed first."""


class _PaidRefused(Exception):
    """order.paid was refused with a coded error: roll back, then record the refusal."""

    def __init__(self, error: FenxiaoError) -> None:
        super().__init__(error.code)
        self.error = error


async def _lock_order(conn: BaseDBAsyncClient, *, program_id: int, external_id: str) -> bool:
    """Lock the order's OrderLock row, created on first sight; True if it is new."""
    values = [program_id, external_id]
    if is_mysql(conn):
        changed, _ = await conn.execute_query(_LOCK_MYSQL, values)
        return changed == 1
    # SQLite runs one writing transaction at a time: the insert alone serializes.
    changed, _ = await conn.execute_query(_LOCK_SQLITE, values)
    if changed == 0:
        await conn.execute_query(_COUNT_SQLITE, values)
    return changed == 1


def _replay(row: OrderEvent, digest: str) -> RecordedOutcome:
    if row.body_sha256 != digest:
        raise event_id_conflict(row.event_id)
    return RecordedOutcome(EventOutcome.from_json(row.outcome), replayed=True)


async def _store_outcome(conn: BaseDBAsyncClient, row_id: int, outcome: EventOutcome) -> None:
    status = outcome_status(outcome)
    error = outcome.body.get("error") if status == EventStatus.REJECTED else None
    fields = OrderEvent._meta.fields_map
    await sql_write(
        conn,
        "UPDATE order_events SET status = ?, outcome = ?, error_code = ?, applied_at = ?"
        " WHERE id = ?",
        [
            status.value,
            fields["outcome"].to_db_value(outcome.to_json(), None),
            error.get("code") if isinstance(error, dict) else None,
            fields["applied_at"].to_db_value(
                clock.now() if status == EventStatus.APPLIED else None, None
            ),
            row_id,
        ],
    )


async def _apply_to_order(
    *,
    conn: BaseDBAsyncClient,
    program: Program,
    order: Order,
    event: IncomingEvent,
    event_row_id: int,
) -> dict[str, Any]:
    if event.type == EventType.REFUNDED:
        return await apply_refunded(conn=conn, order=order, event=event, event_row_id=event_row_id)
    if event.type == EventType.COMPLETED:
        return await apply_completed(conn=conn, program=program, order=order, event=event)
    if event.type == EventType.CANCELLED:
        return await apply_cancelled(conn=conn, order=order, event=event, event_row_id=event_row_id)
    raise ValueError(f"{event.type} does not apply to an existing order")


async def _in_savepoint(
    conn: BaseDBAsyncClient,
    program: Program,
    order_id: int,
    event: IncomingEvent,
    event_row_id: int,
) -> EventOutcome:
    """Apply an event to an existing order; a coded error rolls back only this event."""
    try:
        async with in_transaction():
            # Read afresh: an earlier held event may have changed the order.
            order = await Order.get(id=order_id, using_db=conn)
            effects = await _apply_to_order(
                conn=conn, program=program, order=order, event=event, event_row_id=event_row_id
            )
    except FenxiaoError as error:
        return rejected_outcome(error)
    return applied_outcome(event, effects)


async def _apply_held(
    conn: BaseDBAsyncClient, *, program: Program, order_id: int, paid_row: _EventRow
) -> list[dict[str, Any]]:
    """Apply the events held for this order, in the order received (all before the paid)."""
    held = (
        await OrderEvent.filter(
            program_id=program.id,
            order_external_id=paid_row.order_external_id,
            status=EventStatus.PENDING.value,
            id__lt=paid_row.id,
        )
        .using_db(conn)
        .order_by("id")
    )
    results = []
    for row in held:
        event = parse_event(row.payload)
        outcome = await _in_savepoint(conn, program, order_id, event, row.id)
        await _store_outcome(conn, row.id, outcome)
        error = outcome.body.get("error")
        results.append(
            {
                "event_id": row.event_id,
                "type": row.event_type,
                "status": outcome_status(outcome).value,
                "code": error.get("code") if isinstance(error, dict) else None,
            }
        )
    return results


async def _dispatch(
    conn: BaseDBAsyncClient,
    *,
    config: ProgramConfig,
    event: IncomingEvent,
    row: _EventRow,
    first_of_order: bool,
    appid: str,
    refusal: FenxiaoError | None,
) -> EventOutcome:
    program = config.program
    if event.type == EventType.PAID:
        if refusal is not None:
            return rejected_outcome(refusal)
        try:
            order, effects = await apply_paid(
                conn=conn, config=config, event=event, event_row_id=row.id, appid=appid
            )
        except FenxiaoError as error:
            # order.paid, nearly always accepted, applies without a savepoint: its refusal rolls
            # the whole transaction back and is recorded in a new one.
            raise _PaidRefused(error) from None
        held: list[dict[str, Any]] = []
        if not first_of_order:
            held = await _apply_held(conn, program=program, order_id=order.id, paid_row=row)
        effects["held_events"] = held
        return applied_outcome(event, effects)
    if first_of_order:
        # Its lock row was just created: there is no order to look for yet.
        return pending_outcome(event)
    # The order lock is held, so a plain read sees any order.paid committed before it.
    order_ids = await (
        Order.filter(program_id=program.id, external_id=event.external_id)
        .using_db(conn)
        .values_list("id", flat=True)
    )
    if not order_ids:
        return pending_outcome(event)
    return await _in_savepoint(conn, program, int(order_ids[0]), event, row.id)


async def ingest_order_event(
    *, program_id: int, payload: Mapping[str, Any], appid: str
) -> RecordedOutcome:
    """Record and apply one store event, or answer what its first delivery got."""
    # InnoDB rolls a deadlock victim (or a lock wait timeout) back whole, so it runs again.
    event = parse_event(payload)
    digest = body_sha256(payload)
    attempt = 1
    while True:
        try:
            try:
                recorded = await _ingest_once(
                    program_id=program_id, event=event, payload=payload, digest=digest, appid=appid
                )
            except _PaidRefused as refused:
                recorded = await _ingest_once(
                    program_id=program_id,
                    event=event,
                    payload=payload,
                    digest=digest,
                    appid=appid,
                    refusal=refused.error,
                )
            outcome = "replayed" if recorded.replayed else outcome_status(recorded.outcome).value
            count_event(event.type.value.removeprefix("order."), outcome)
            return recorded
        except Exception as error:
            if attempt >= MAX_ATTEMPTS or not is_lock_conflict(error):
                raise
            log.warning("order event %s: deadlock, attempt %s again", event.event_id, attempt)
            await asyncio.sleep(random.uniform(0.005, 0.05) * attempt)
            attempt += 1


async def _ingest_once(
    *,
    program_id: int,
    event: IncomingEvent,
    payload: Mapping[str, Any],
    digest: str,
    appid: str,
    refusal: FenxiaoError | None = None,
) -> RecordedOutcome:
    """One transaction; `refusal` records an order.paid as refused by that error."""
    try:
        async with in_transaction() as conn:
            # The lock comes before any plain read: InnoDB fixes a transaction's snapshot at
            # its first plain read, which must see every event of this order committed by
            # the transactions that held the lock before us.
            first_of_order = await _lock_order(
                conn, program_id=program_id, external_id=event.external_id
            )
            try:
                row_id = await insert_rows(
                    conn,
                    OrderEvent,
                    [
                        {
                            "program_id": program_id,
                            "event_id": event.event_id,
                            "event_type": event.type.value,
                            "order_external_id": event.external_id,
                            "body_sha256": digest,
                            "status": EventStatus.PENDING.value,
                            "outcome": {},
                            "error_code": None,
                            "payload": dict(payload),
                            "applied_at": None,
                        }
                    ],
                )
            except IntegrityError:
                # A delivery of this event id committed before: answer what it got.
                raise _AlreadyRecorded from None
            config = await program_config(program_id=program_id, conn=conn)
            if config is None:
                raise NotFound("no such program", code="program_not_found")
            outcome = await _dispatch(
                conn,
                config=config,
                event=event,
                row=_EventRow(id=row_id, order_external_id=event.external_id),
                first_of_order=first_of_order,
                appid=appid,
                refusal=refusal,
            )
            await _store_outcome(conn, row_id, outcome)
            # The order's report bucket, in this transaction (docs/reports.md#freshness).
            await mark_order(conn=conn, program_id=program_id, external_id=event.external_id)
    except _AlreadyRecorded:
        earlier = await OrderEvent.get_or_none(program_id=program_id, event_id=event.event_id)
        if earlier is None:  # pragma: no cover - the winner committed before we collided
            raise
        return _replay(earlier, digest)
    return RecordedOutcome(outcome, replayed=False)
