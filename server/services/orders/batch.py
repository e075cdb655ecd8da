"""A drainer's claimed order.paid events applied together: one transaction, one multi-row
statement per table, one read each for buyers, chains and identities. Anything unusual is
left to the per-event path (`ingest_order_event`), which stays the reference.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from server import clock
from server.db import is_mysql
from server.domain.orders.events import (
    EventStatus,
    EventType,
    IncomingEvent,
    OrderPaid,
    applied_outcome,
)
from server.domain.orders.inbox import InboxStatus
from server.domain.orders.parsing import body_sha256
from server.metrics import count_event
from server.models import OrderEvent, QueuedOrderEvent
from server.services.ledger.postings import sql_rows, sql_write
from server.services.orders.paid import paid_effects, screen_paid_orders, write_paid_orders
from server.services.orders.paid_plan import PaidItem, plan_paid_orders
from server.services.orders.writes import insert_rows, inserted_ids
from server.services.programs.cache import ProgramConfig, program_config
from server.services.reports.marks import mark_instants

log = logging.getLogger("fenxiao.order_events.batch")


@dataclass(frozen=True)
class BatchEvent:
    """A claimed inbox row, parsed."""

    inbox_id: int
    program_id: int
    appid: str
    event: IncomingEvent
    payload: Mapping[str, Any]

    @property
    def order_key(self) -> tuple[int, str]:
        return (self.program_id, self.event.external_id)


class _LeftToOneByOne(Exception):
    """Something the set-based path does not decide: the per-event path applies the batch."""


def _plain_paid(event: IncomingEvent) -> bool:
    # A coupon may bind the buyer (the next order of the batch would see it) and a site is
    # checked by a read of its own: both rare, both left to the per-event path.
    paid = event.order
    return (
        event.type == EventType.PAID
        and isinstance(paid, OrderPaid)
        and not paid.coupon_code
        and paid.site_id is None
    )


async def _configs(program_ids: set[int], conn: BaseDBAsyncClient) -> dict[int, ProgramConfig]:
    found = {}
    for program_id in sorted(program_ids):
        config = await program_config(program_id=program_id, conn=conn)
        # Caps lock their promoters and count what earlier orders earned: one by one.
        if config is not None and not config.caps:
            found[program_id] = config
    return found


async def _new_orders(events: list[BatchEvent], conn: BaseDBAsyncClient) -> set[tuple[int, str]]:
    """The orders of `events` nobody has sent an event for yet (no lock row)."""
    programs = sorted({e.program_id for e in events})
    externals = sorted({e.event.external_id for e in events})
    rows = await sql_rows(
        conn,
        f"SELECT program_id, external_id FROM order_locks WHERE program_id IN"
        f" ({', '.join('?' for _ in programs)})"
        f" AND external_id IN ({', '.join('?' for _ in externals)})",
        [*programs, *externals],
    )
    seen = {(int(row["program_id"]), row["external_id"]) for row in rows}
    return {e.order_key for e in events} - seen


async def split_batch(
    events: list[BatchEvent], conn: BaseDBAsyncClient
) -> tuple[list[BatchEvent], list[BatchEvent]]:
    """(the first order.paid of new orders, of one appid and no caps; the rest)."""
    per_order: dict[tuple[int, str], int] = {}
    for event in events:
        per_order[event.order_key] = per_order.get(event.order_key, 0) + 1
    # Another event of the same order in the batch keeps the order's events in sequence.
    candidates = [e for e in events if per_order[e.order_key] == 1 and _plain_paid(e.event)]
    if candidates:
        appid = candidates[0].appid
        candidates = [e for e in candidates if e.appid == appid]
    if len(candidates) < 2:
        return [], events
    configs = await _configs({e.program_id for e in candidates}, conn)
    fresh = await _new_orders(candidates, conn)
    chosen = [
        e
        for e in candidates
        if e.program_id in configs
        and e.order_key in fresh
        and e.event.order.currency == configs[e.program_id].program.currency  # type: ignore[union-attr]
    ]
    taken = {e.inbox_id for e in chosen}
    return chosen, [e for e in events if e.inbox_id not in taken]


async def _lock_new_orders(events: list[BatchEvent], conn: BaseDBAsyncClient) -> None:
    """Create the orders' lock rows (held until commit); any that exists by now stops here."""
    keys = sorted(e.order_key for e in events)
    if is_mysql(conn):
        query = (
            "INSERT INTO order_locks (program_id, external_id, event_count) VALUES "
            + ", ".join("(%s, %s, 1)" for _ in keys)
            + " ON DUPLICATE KEY UPDATE event_count = event_count + 1"
        )
    else:
        query = (
            "INSERT INTO order_locks (program_id, external_id, event_count) VALUES "
            + ", ".join("(?, ?, 1)" for _ in keys)
            + " ON CONFLICT (program_id, external_id) DO NOTHING"
        )
    changed, _ = await conn.execute_query(query, [value for key in keys for value in key])
    if changed != len(keys):  # an update counts 2 on MySQL, a conflict 0 on SQLite
        raise _LeftToOneByOne("an event of one of these orders arrived meanwhile")


async def _record_events(events: list[BatchEvent], conn: BaseDBAsyncClient) -> list[int]:
    rows = [
        {
            "program_id": e.program_id,
            "event_id": e.event.event_id,
            "event_type": e.event.type.value,
            "order_external_id": e.event.external_id,
            "body_sha256": body_sha256(e.payload),
            "status": EventStatus.PENDING.value,
            "outcome": {},
            "error_code": None,
            "payload": dict(e.payload),
            "applied_at": None,
        }
        for e in events
    ]
    try:
        insert_id = await insert_rows(conn, OrderEvent, rows)
    except Exception as error:  # an event id delivered before: its answer is the earlier one
        raise _LeftToOneByOne("an event id was taken") from error
    ids = await inserted_ids(conn, insert_id, len(rows))
    if ids is not None:
        return ids
    programs = sorted({e.program_id for e in events})
    event_ids = [e.event.event_id for e in events]
    found = await sql_rows(
        conn,
        "SELECT id, program_id, event_id FROM order_events"
        f" WHERE program_id IN ({', '.join('?' for _ in programs)})"
        f" AND event_id IN ({', '.join('?' for _ in event_ids)})",
        [*programs, *event_ids],
    )
    by_key = {(int(row["program_id"]), row["event_id"]): int(row["id"]) for row in found}
    return [by_key[(e.program_id, e.event.event_id)] for e in events]


async def _store_outcomes(
    conn: BaseDBAsyncClient, row_ids: list[int], outcomes: list[dict[str, Any]]
) -> None:
    """Every event applied: one UPDATE choosing each row's outcome by id."""
    fields = OrderEvent._meta.fields_map
    cases = " ".join("WHEN ? THEN ?" for _ in row_ids)
    values: list[Any] = []
    for row_id, outcome in zip(row_ids, outcomes, strict=True):
        values += [row_id, fields["outcome"].to_db_value(outcome, None)]
    await sql_write(
        conn,
        f"UPDATE order_events SET outcome = CASE id {cases} END, status = ?, applied_at = ?"
        f" WHERE id IN ({', '.join('?' for _ in row_ids)})",
        [
            *values,
            EventStatus.APPLIED.value,
            fields["applied_at"].to_db_value(clock.now(), None),
            *row_ids,
        ],
    )


async def _finish_inbox(conn: BaseDBAsyncClient, inbox_ids: list[int]) -> None:
    fields = QueuedOrderEvent._meta.fields_map
    await sql_write(
        conn,
        "UPDATE order_event_inbox SET status = ?, processed_at = ?, outcome_status_code = 200,"
        " error = NULL, claim_token = NULL, claimed_until = NULL"
        f" WHERE status = ? AND id IN ({', '.join('?' for _ in inbox_ids)})",
        [
            InboxStatus.DONE.value,
            fields["processed_at"].to_db_value(clock.now(), None),
            InboxStatus.PROCESSING.value,
            *inbox_ids,
        ],
    )


async def _apply(events: list[BatchEvent]) -> None:
    async with in_transaction() as conn:
        # The locks first, as one event's transaction takes its order's lock before any read.
        await _lock_new_orders(events, conn)
        row_ids = await _record_events(events, conn)
        configs = await _configs({e.program_id for e in events}, conn)
        if len(configs) != len({e.program_id for e in events}):
            raise _LeftToOneByOne("a program changed its caps meanwhile")
        items = [
            PaidItem(config=configs[e.program_id], event=e.event, event_row_id=row_id)
            for e, row_id in zip(events, row_ids, strict=True)
        ]
        plans = await plan_paid_orders(items=items, appid=events[0].appid, conn=conn)
        orders = await write_paid_orders(conn=conn, plans=plans)
        await screen_paid_orders(conn=conn, plans=plans, orders=orders)
        outcomes = [
            applied_outcome(e.event, {**paid_effects(plan, order), "held_events": []}).to_json()
            for e, plan, order in zip(events, plans, orders, strict=True)
        ]
        await _store_outcomes(conn, row_ids, outcomes)
        # The orders' report buckets, in this transaction (docs/reports.md#freshness).
        for program_id in sorted(configs):
            await mark_instants(
                conn=conn,
                program_id=program_id,
                instants=[o.paid_at for o in orders if o.program_id == program_id],  # type: ignore[attr-defined]
            )
        await _finish_inbox(conn, [e.inbox_id for e in events])


async def apply_paid_batch(events: list[BatchEvent]) -> bool:
    """Apply `events` (from `split_batch`) in one transaction; False when they are left to the
    per-event path (rolled back whole: a deadlock, an event id taken, a refusal…)."""
    if not events:
        return True
    try:
        await _apply(events)
    except _LeftToOneByOne as reason:
        log.info("order event batch of %s left to one by one: %s", len(events), reason)
        return False
    except Exception:
        # The per-event path retries deadlocks and records refusals; it decides these.
        log.warning("order event batch of %s left to one by one", len(events), exc_info=True)
        return False
    for _event in events:
        count_event("paid", EventStatus.APPLIED.value)
    return True
