"""A program's live rule set as a version document, and the version a direct edit makes:
stored records to JSON rows and back, whatever their kind (docs/rule-sets.md)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tortoise import fields
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.models import Model

from server import clock
from server.auth import Principal
from server.domain.programs.rule_sets import (
    KINDS,
    NOT_SETTINGS,
    VersionStatus,
    empty_document,
    json_value,
)
from server.models import (
    CommissionBoostRecord,
    CommissionRuleRecord,
    MilestoneBonusRecord,
    PeriodCapRecord,
    Program,
    PromoterTierRecord,
    RuleSetVersion,
)

MODELS: dict[str, type[Model]] = {
    "tier": PromoterTierRecord,
    "commission_rule": CommissionRuleRecord,
    "period_cap": PeriodCapRecord,
    "boost": CommissionBoostRecord,
    "milestone_bonus": MilestoneBonusRecord,
}
assert tuple(MODELS) == KINDS


def _columns(model: type[Model]) -> list[str]:
    # Field names as the model reads them (`site_id`, not the related `site`).
    return [name for name in model._meta.fields_db_projection if name not in NOT_SETTINGS]


def record_row(record: Model) -> dict[str, Any]:
    """A stored record as a version document row: its id and settings, JSON-safe."""
    return {name: json_value(getattr(record, name)) for name in _columns(type(record))}


def _parsed(field: fields.Field, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(field, fields.DecimalField):
        return Decimal(str(value))
    if isinstance(field, fields.DatetimeField) and isinstance(value, str):
        moment = datetime.fromisoformat(value)
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return value


def row_record(kind: str, row: Mapping[str, Any], *, program_id: int) -> Model:
    """An unsaved record holding a document row's settings (to check, show or store)."""
    model = MODELS[kind]
    values = {
        name: _parsed(model._meta.fields_map[name], row.get(name))
        for name in _columns(model)
        if name != "id"
    }
    record = model(program_id=program_id, **values)
    record.id = row.get("id")
    return record


async def live_document(*, program_id: int, conn: BaseDBAsyncClient) -> dict[str, Any]:
    """Every record of the program's rule set as it is stored now, enabled or not."""
    document = empty_document()
    for kind, model in MODELS.items():
        records = await model.filter(program_id=program_id).using_db(conn).order_by("id")
        document[kind] = [record_row(record) for record in records]
    return document


async def ensure_live_version(*, program: Program, conn: BaseDBAsyncClient) -> RuleSetVersion:
    """The row of the program's live version, written from its live records when it has none
    yet (version 1 of a program the migration found, or a program made since)."""
    number = program.rule_set_version
    version = await RuleSetVersion.get_or_none(program_id=program.id, number=number).using_db(conn)
    if version is not None:
        return version
    version = RuleSetVersion(
        program_id=program.id,
        number=number,
        status=VersionStatus.PUBLISHED.value,
        document=await live_document(program_id=program.id, conn=conn),
        note="the configuration when versions began",
        published_at=clock.now(),
    )
    try:
        await version.save(using_db=conn)
    except IntegrityError:  # another caller wrote it first: theirs is the same snapshot
        return await RuleSetVersion.get(program_id=program.id, number=number).using_db(conn)
    return version


async def next_number(*, program_id: int, conn: BaseDBAsyncClient) -> int:
    """The next free version number of a program (the caller holds the program's lock)."""
    numbers = (
        await RuleSetVersion.filter(program_id=program_id)
        .using_db(conn)
        .values_list("number", flat=True)
    )
    return max([0, *numbers]) + 1  # type: ignore[list-item]


async def make_live(
    *,
    program: Program,
    version: RuleSetVersion,
    actor: Principal | None,
    conn: BaseDBAsyncClient,
) -> None:
    """Record `version` as published with the live records, and the program's live number."""
    version.status = VersionStatus.PUBLISHED.value
    version.document = await live_document(program_id=program.id, conn=conn)
    version.published_at = clock.now()
    version.published_by = actor.id if actor is not None and actor.kind == "staff" else None
    await version.save(using_db=conn)
    program.rule_set_version = version.number
    await program.save(using_db=conn, update_fields=["rule_set_version", "updated_at"])


async def publish_direct_edit(
    *, program: Program, kind: str, actor: Principal | None, conn: BaseDBAsyncClient
) -> None:
    """A direct edit of a record is a draft published in one step: a new live version."""
    number = await next_number(program_id=program.id, conn=conn)
    version = RuleSetVersion(
        program_id=program.id,
        number=number,
        status=VersionStatus.DRAFT.value,
        based_on=program.rule_set_version,
        note=f"direct edit ({kind})",
        created_by=actor.id if actor is not None and actor.kind == "staff" else None,
    )
    await make_live(program=program, version=version, actor=actor, conn=conn)
