"""A program's staff-managed configuration records (commission rules, period caps, tiers,
incentives): locked, checked, stored, audited and listed the same way whatever their kind;
a direct edit publishes a new rule-set version in its transaction (docs/rule-sets.md)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from server.auth import Principal
from server.domain.errors import Conflict, NotFound
from server.domain.pagination import check_page_limit, next_cursor
from server.domain.programs.settings import ProgramStatus
from server.models import (
    CommissionBoostRecord,
    CommissionRuleRecord,
    MilestoneBonusRecord,
    PeriodCapRecord,
    Program,
    Promoter,
    PromoterTierRecord,
    Site,
)
from server.services.access.audit import record_action
from server.services.programs.rule_set_rows import ensure_live_version, publish_direct_edit

Record = TypeVar(
    "Record",
    CommissionRuleRecord,
    PeriodCapRecord,
    PromoterTierRecord,
    CommissionBoostRecord,
    MilestoneBonusRecord,
)
Item = TypeVar("Item")


@dataclass(frozen=True, kw_only=True)
class ConfigKind(Generic[Record, Item]):
    """How one kind of record is read, checked and stored; `name` also names its audit
    actions (`<name>.create`), its audit target kind and its 404 code (`<name>_not_found`)."""

    model: type[Record]
    name: str
    label: str
    to_domain: Callable[[Record], Item]
    # JSON-safe settings as the API shows them and the audit log keeps them.
    document: Callable[..., dict[str, Any]]
    # The stored settings as parsed values: what a patch is merged into.
    current: Callable[[Record], dict[str, Any]]
    # (document, *, record_id, program, conn) -> the checked item, else 422 naming each field.
    check: Callable[..., Awaitable[Item]]
    store: Callable[[Record, Item, Mapping[str, Any]], None]
    # A check of the program's whole enabled set once this item is in it (None = none).
    guard: Callable[[Program, Item, BaseDBAsyncClient], Awaitable[None]] | None = None

    def not_found(self) -> NotFound:
        return NotFound(f"no such {self.label}", code=f"{self.name}_not_found")


async def scope_reference_errors(
    *,
    program_id: int,
    site_id: int | None,
    promoter_id: int | None,
    conn: BaseDBAsyncClient,
) -> dict[str, str]:
    """`site_id` and `promoter_id`, when set, must belong to the program."""
    errors: dict[str, str] = {}
    if site_id is not None and not await Site.exists(
        id=site_id, program_id=program_id, using_db=conn
    ):
        errors["site_id"] = "not a site of this program"
    if promoter_id is not None and not await Promoter.exists(
        id=promoter_id, program_id=program_id, using_db=conn
    ):
        errors["promoter_id"] = "not a promoter of this program"
    return errors


async def locked_writable_program(program_id: int, conn: BaseDBAsyncClient) -> Program:
    """The program row locked for this transaction; 404 unknown, 409 archived."""
    # The lock serializes writes to one program's records, so two saves cannot each pass a
    # set-wide check (the rule set never overpays) alone and fail it together.
    program = await Program.filter(id=program_id).using_db(conn).select_for_update().first()
    if program is None:
        raise NotFound("no such program", code="program_not_found")
    if program.status == ProgramStatus.ARCHIVED:
        raise Conflict("an archived program cannot be changed", code="program_archived")
    return program


async def _audit(
    kind: ConfigKind[Record, Item],
    verb: str,
    record: Record,
    program: Program,
    details: dict[str, Any],
    *,
    actor: Principal,
    request_id: str | None,
    conn: BaseDBAsyncClient,
) -> None:
    await record_action(
        actor=actor,
        action=f"{kind.name}.{verb}",
        target_kind=kind.name,
        target_id=record.id,
        program_id=program.id,
        details=details,
        request_id=request_id,
        using_db=conn,
    )


async def create_record(
    kind: ConfigKind[Record, Item],
    *,
    program_id: int,
    document: Mapping[str, Any],
    actor: Principal,
    request_id: str | None,
) -> tuple[Record, str]:
    """Add a record to a program (checked, audited); returns it and the program currency."""
    async with in_transaction() as conn:
        program = await locked_writable_program(program_id, conn)
        await ensure_live_version(program=program, conn=conn)
        # Id 0 stands for "the record being created" until the row exists (ids start at 1).
        item = await kind.check(document, record_id=0, program=program, conn=conn)
        record = kind.model(program_id=program.id)
        kind.store(record, item, document)
        await record.save(using_db=conn)
        if kind.guard is not None:
            await kind.guard(program, replace(item, id=record.id), conn)  # type: ignore[type-var]
        after = kind.document(record, currency=program.currency)
        await _audit(
            kind,
            "create",
            record,
            program,
            {"after": after},
            actor=actor,
            request_id=request_id,
            conn=conn,
        )
        await publish_direct_edit(program=program, kind=kind.name, actor=actor, conn=conn)
    return record, program.currency


async def _program_id_of(kind: ConfigKind[Record, Item], record_id: int) -> int:
    # Read before the transaction: on MariaDB a plain read inside it would fix the snapshot
    # before the program lock is held, hiding records saved by whoever held the lock.
    program_id = await kind.model.filter(id=record_id).first().values_list("program_id", flat=True)
    if program_id is None:
        raise kind.not_found()
    return int(program_id)  # type: ignore[call-overload]


async def _locked(
    kind: ConfigKind[Record, Item], record_id: int, program_id: int, conn: BaseDBAsyncClient
) -> tuple[Record, Program]:
    program = await locked_writable_program(program_id, conn)
    record = await kind.model.filter(id=record_id).using_db(conn).select_for_update().first()
    if record is None:
        raise kind.not_found()
    # The live version's row is written before anything changes (see rule_set_rows).
    await ensure_live_version(program=program, conn=conn)
    return record, program


async def update_record(
    kind: ConfigKind[Record, Item],
    *,
    record_id: int,
    changes: Mapping[str, Any],
    actor: Principal,
    request_id: str | None,
) -> tuple[Record, str]:
    """Change some fields of a record (checked as a whole); audited when anything changed."""
    # A commission keeps what the rule or cap said when it was made, so records stay
    # editable: an edit never changes a commission already made.
    program_id = await _program_id_of(kind, record_id)
    async with in_transaction() as conn:
        record, program = await _locked(kind, record_id, program_id, conn)
        before = kind.document(record, currency=program.currency)
        merged = {**kind.current(record), **changes}
        item = await kind.check(merged, record_id=record.id, program=program, conn=conn)
        kind.store(record, item, merged)
        after = kind.document(record, currency=program.currency)
        if after != before:
            await record.save(using_db=conn)
            if kind.guard is not None:
                await kind.guard(program, item, conn)
            await _audit(
                kind,
                "update",
                record,
                program,
                {"before": before, "after": after},
                actor=actor,
                request_id=request_id,
                conn=conn,
            )
            await publish_direct_edit(program=program, kind=kind.name, actor=actor, conn=conn)
    return record, program.currency


async def set_record_enabled(
    kind: ConfigKind[Record, Item],
    *,
    record_id: int,
    enabled: bool,
    actor: Principal,
    request_id: str | None,
) -> tuple[Record, str]:
    """Disable a record (new orders stop using it) or enable it again (checked); audited."""
    program_id = await _program_id_of(kind, record_id)
    async with in_transaction() as conn:
        record, program = await _locked(kind, record_id, program_id, conn)
        if record.enabled != enabled:
            record.enabled = enabled
            if enabled and kind.guard is not None:
                await kind.guard(program, kind.to_domain(record), conn)
            await record.save(using_db=conn, update_fields=["enabled", "updated_at"])
            changes = {"enabled": {"before": not enabled, "after": enabled}}
            await _audit(
                kind,
                "enable" if enabled else "disable",
                record,
                program,
                {"changes": changes},
                actor=actor,
                request_id=request_id,
                conn=conn,
            )
            await publish_direct_edit(program=program, kind=kind.name, actor=actor, conn=conn)
    return record, program.currency


async def get_record(kind: ConfigKind[Record, Item], *, record_id: int) -> tuple[Record, str]:
    """One record and its program's currency, else 404 `<name>_not_found`."""
    record = await kind.model.filter(id=record_id).select_related("program").first()
    if record is None:
        raise kind.not_found()
    return record, record.program.currency


def serialize_record(
    record: Record, kind: ConfigKind[Record, Item], *, currency: str
) -> dict[str, Any]:
    """A record as the API shows it: its settings with id, program, currency and times."""
    return {
        "id": record.id,
        "program_id": record.program_id,  # type: ignore[attr-defined]
        "currency": currency,
        **kind.document(record, currency=currency),
        "created_at": record.created_at,
        "updated_at": record.updated_at,
    }


async def program_records_page(
    kind: ConfigKind[Record, Item],
    *,
    program_id: int,
    enabled: bool | None,
    cursor: int | None,
    limit: int,
) -> dict[str, Any]:
    """A page of a program's records in id order; `cursor` is the previous page's last id."""
    check_page_limit(limit)
    program = await Program.get_or_none(id=program_id)
    if program is None:
        raise NotFound("no such program", code="program_not_found")
    query = kind.model.filter(program_id=program_id)
    if enabled is not None:
        query = query.filter(enabled=enabled)
    if cursor is not None:
        query = query.filter(id__gt=cursor)
    records = await query.order_by("id").limit(limit)
    return {
        "items": [serialize_record(r, kind, currency=program.currency) for r in records],
        "next_cursor": next_cursor([row.id for row in records], limit),
    }
