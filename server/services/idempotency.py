"""Creating once per idempotency key: the key is written in the transaction of the record it
protects, so a retry after a lost answer replays that record and never makes a second one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from server import clock
from server.domain.idempotency import RequestKey, idempotency_key_reused
from server.models import IdempotencyRecord

T = TypeVar("T")


def resource_id_of(value: Any) -> int:
    """The id of what a use case created: a serialized record's "id", or a model's."""
    if isinstance(value, tuple):  # (record, what it is shown with)
        value = value[0]
    return int(value["id"] if isinstance(value, Mapping) else value.id)


async def _earlier_use(key: RequestKey) -> int | None:
    """The record a committed use of the key created; None if the key was never used."""
    used = await IdempotencyRecord.filter(subject=key.subject, route=key.route, key=key.key).first()
    if used is None or used.resource_id is None:
        return None
    if used.request_digest is not None and used.request_digest != key.digest:
        raise idempotency_key_reused(key.key)
    return used.resource_id


async def create_once(
    key: RequestKey | None,
    work: Callable[[], Awaitable[T]],
    *,
    replay: Callable[[int], Awaitable[T]],
    id_of: Callable[[T], int] = resource_id_of,
) -> tuple[T, bool]:
    """(what `work` created, False), or (the key's first record via `replay`, True)."""
    if key is None:
        return await work(), False
    try:
        # The use case's own transactions nest in this one (as savepoints): the key and the
        # record commit together or not at all.
        async with in_transaction() as conn:
            # An INSERT first: it waits for a concurrent holder of the key and, unlike a read,
            # does not fix MariaDB's snapshot before the use case takes its own locks.
            claim = await IdempotencyRecord.create(
                subject=key.subject,
                route=key.route,
                key=key.key,
                request_digest=key.digest,
                created_at=clock.now(),
                using_db=conn,
            )
            created = await work()
            claim.resource_id = id_of(created)
            await claim.save(using_db=conn, update_fields=["resource_id"])
    except IntegrityError:
        # Either the key was used (the other request committed first) or the use case broke
        # a unique index of its own; only a committed use of the key tells them apart.
        earlier = await _earlier_use(key)
        if earlier is None:
            raise
        return await replay(earlier), True
    return created, False
