"""What the promotion tools' staff writes share: a locked read of the record, its audit entry
with the fields that changed, and a status change through its transition table."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from enum import StrEnum
from typing import Any, TypeVar

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model
from tortoise.transactions import in_transaction

from server.auth import Principal
from server.domain.errors import NotFound
from server.domain.state_machine import StateMachine
from server.services.access.audit import record_action

R = TypeVar("R", bound=Model)
S = TypeVar("S", bound=StrEnum)


async def locked(
    model: type[R], record_id: int, conn: BaseDBAsyncClient, missing: Callable[[], NotFound]
) -> R:
    """The record, row-locked in the caller's transaction; `missing()` when there is none."""
    record = await model.filter(id=record_id).using_db(conn).select_for_update().first()
    if record is None:
        raise missing()
    return record


async def audit_changes(
    *,
    conn: BaseDBAsyncClient,
    actor: Principal,
    action: str,
    record: Model,
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    keys: Iterable[str],
    request_id: str | None,
) -> None:
    """One audit entry naming each of `keys` whose value changed, before and after."""
    await record_action(
        actor=actor,
        action=action,
        target_kind=action.split(".", 1)[0],
        target_id=record.pk,
        program_id=record.program_id,  # type: ignore[attr-defined]
        details={
            "changes": {
                key: {"before": before[key], "after": after[key]}
                for key in keys
                if before[key] != after[key]
            }
        },
        request_id=request_id,
        using_db=conn,
    )


async def change_status(
    *,
    model: type[R],
    record_id: int,
    lifecycle: StateMachine[S],
    states: type[S],
    action: str,
    actor: Principal,
    request_id: str | None,
    missing: Callable[[], NotFound],
    stamp: Callable[[R, S], None],
) -> R:
    """Move the record's `status` by `action` (409 from a wrong state), `stamp` the time, and
    audit it, in one transaction."""
    async with in_transaction() as conn:
        record = await locked(model, record_id, conn, missing)
        before = {"status": record.status}  # type: ignore[attr-defined]
        target = lifecycle.target(states(before["status"]), action)
        record.status = target.value  # type: ignore[attr-defined]
        stamp(record, target)
        await record.save(using_db=conn)
        await audit_changes(
            conn=conn,
            actor=actor,
            action=f"{model.__name__.lower()}.{action}",
            record=record,
            before=before,
            after={"status": target.value},
            keys=("status",),
            request_id=request_id,
        )
    return record
