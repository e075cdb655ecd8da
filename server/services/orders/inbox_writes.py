"""Accepted order events are written to the inbox in groups: one statement for the deliveries
a worker accepts together, each answered only once that statement has committed.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import deque
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from tortoise.exceptions import IntegrityError

from server.db import connection
from server.services.ledger.postings import sql_rows, sql_write

_COLUMNS = (
    "INSERT INTO order_event_inbox (program_id, event_id, event_type, order_external_id,"
    " body_sha256, body, appid, api_key_id, nonce, status, attempts, received_at) "
)
# One delivery's row, stored only while its key is live (server/services/orders/inbox.py);
# its parameters are an InboxRow's values, in order.
_ROW = (
    "SELECT ?, ?, ?, ?, ?, ?, ?, id, ?, ?, 0, ? FROM api_keys WHERE id = ? AND revoked_at IS NULL"
)
# Rows per statement: far below every limit of the statement's size, and enough that a
# worker's deliveries of one moment fit in one or two statements.
MAX_GROUP_ROWS = 64
# Bodies are at most a request's size; a group stays well under MySQL's max_allowed_packet.
MAX_GROUP_BYTES = 4 * 1024 * 1024
# Statements a worker writes at once. Deliveries arriving meanwhile wait for it to end and
# then go together: measured, one at a time answered more deliveries per second than two.
MAX_STATEMENTS_IN_FLIGHT = 1


class InboxRow(NamedTuple):
    """One delivery's inbox row: the parameters of `_ROW`, in order."""

    program_id: int
    event_id: str
    event_type: str
    order_external_id: str
    body_sha256: str
    body: str
    appid: str
    nonce: str
    status: str
    received_at: Any
    api_key_id: int


@dataclass(eq=False)
class _Delivery:
    row: InboxRow
    stored: asyncio.Future[bool] = field(repr=False)

    @property
    def size(self) -> int:
        return len(self.row.body)


def _group_statement(rows: int) -> str:
    return _COLUMNS + " UNION ALL ".join([_ROW] * rows)


def _answer(delivery: _Delivery, stored: bool) -> None:
    # A delivery whose request went away meanwhile has nobody to answer.
    if not delivery.stored.done():
        delivery.stored.set_result(stored)


def _fail(delivery: _Delivery, error: BaseException) -> None:
    if not delivery.stored.done():
        delivery.stored.set_exception(error)


class InboxWriter:
    """Groups the deliveries of one event loop into shared statements."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._waiting: deque[_Delivery] = deque()
        self._writing: set[asyncio.Task[None]] = set()
        self._scheduled = False

    async def store(self, row: InboxRow) -> bool:
        """Write one delivery's row with whatever else is waiting; False if its key is gone."""
        delivery = _Delivery(row=row, stored=self._loop.create_future())
        self._waiting.append(delivery)
        self._schedule()
        return await delivery.stored

    def _schedule(self) -> None:
        # On the next turn of the loop: every delivery that arrives in this one joins.
        if not self._scheduled and len(self._writing) < MAX_STATEMENTS_IN_FLIGHT:
            self._scheduled = True
            self._loop.call_soon(self._write_next_group)

    def _write_next_group(self) -> None:
        self._scheduled = False
        group = self._take_group()
        if not group:
            return
        task = self._loop.create_task(_write_group(group))
        self._writing.add(task)
        task.add_done_callback(self._group_written)

    def _take_group(self) -> list[_Delivery]:
        group: list[_Delivery] = []
        size = 0
        while self._waiting and len(group) < MAX_GROUP_ROWS:
            delivery = self._waiting[0]
            if group and size + delivery.size > MAX_GROUP_BYTES:
                break
            group.append(self._waiting.popleft())
            size += delivery.size
        return group

    def _group_written(self, task: asyncio.Task[None]) -> None:
        self._writing.discard(task)
        if self._waiting:
            self._schedule()


async def _write_group(group: list[_Delivery]) -> None:
    try:
        if len(group) == 1:
            await _write_alone(group[0])
            return
        flat = [value for delivery in group for value in delivery.row]
        try:
            written = await sql_write(connection(), _group_statement(len(group)), flat)
        except IntegrityError:
            # The statement wrote nothing: each delivery gets its own answer.
            for delivery in group:
                await _write_alone(delivery)
            return
        if written == len(group):
            for delivery in group:
                _answer(delivery, True)
            return
        stored = await _stored_nonces(group)
        for delivery in group:
            _answer(delivery, (delivery.row.api_key_id, delivery.row.nonce) in stored)
    except asyncio.CancelledError:
        for delivery in group:
            delivery.stored.cancel()
        raise
    except Exception as error:
        # An outage: each delivery of the group fails as it would have alone.
        for delivery in group:
            _fail(delivery, error)


async def _write_alone(delivery: _Delivery) -> None:
    try:
        written = await sql_write(connection(), _group_statement(1), list(delivery.row))
    except IntegrityError as refused:
        _fail(delivery, refused)
        return
    _answer(delivery, written == 1)


async def _stored_nonces(group: list[_Delivery]) -> set[tuple[int, str]]:
    """The (key, nonce) of the group's deliveries that are in the inbox now."""
    keys = sorted({delivery.row.api_key_id for delivery in group})
    nonces = [delivery.row.nonce for delivery in group]
    # By key and nonce: the inbox's unique (api_key_id, nonce) index, not a scan of the inbox.
    rows = await sql_rows(
        connection(),
        "SELECT api_key_id, nonce FROM order_event_inbox"
        f" WHERE api_key_id IN ({', '.join(['?'] * len(keys))})"
        f" AND nonce IN ({', '.join(['?'] * len(nonces))})",
        [*keys, *nonces],
    )
    return {(int(row["api_key_id"]), str(row["nonce"])) for row in rows}


_writers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, InboxWriter] = (
    weakref.WeakKeyDictionary()
)


async def store_accepted(row: InboxRow) -> bool:
    """Write one accepted delivery's inbox row with the others of its moment."""
    loop = asyncio.get_running_loop()
    writer = _writers.get(loop)
    if writer is None:
        writer = _writers[loop] = InboxWriter(loop)
    return await writer.store(row)
