"""Rule-set versions of a program: list and read them, make a draft of the live version,
edit, discard and publish it (docs/rule-sets.md)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model
from tortoise.transactions import in_transaction

from server.auth import Principal
from server.config import commission_level_cap
from server.domain.commissions.inputs import ProgramTerms
from server.domain.commissions.rule_guard import ensure_rule_set_never_overpays
from server.domain.errors import Conflict, NotFound, ValidationFailed
from server.domain.programs.rule_sets import (
    KINDS,
    VERSION_LIFECYCLE,
    VersionStatus,
    diff_documents,
    item_key,
    next_new_key,
)
from server.models import Program, RuleSetVersion
from server.services.access.audit import record_action
from server.services.programs.commission_rules import RULES, to_domain_rule
from server.services.programs.config_records import ConfigKind, locked_writable_program
from server.services.programs.period_caps import CAPS
from server.services.programs.rule_set_rows import (
    MODELS,
    ensure_live_version,
    live_document,
    make_live,
    next_number,
    record_row,
    row_record,
)
from server.services.programs.settings import settings_of
from server.services.tiers.config import TIERS
from server.services.tiers.incentive_config import BONUSES, BOOSTS

CONFIG_KINDS: dict[str, ConfigKind[Any, Any]] = {
    "tier": TIERS,
    "commission_rule": RULES,
    "period_cap": CAPS,
    "boost": BOOSTS,
    "milestone_bonus": BONUSES,
}
assert tuple(CONFIG_KINDS) == KINDS


def version_not_found() -> NotFound:
    return NotFound("no such rule-set version", code="rule_set_version_not_found")


def serialize_version(
    version: RuleSetVersion, *, live: int, with_document: bool = True
) -> dict[str, Any]:
    """A version as the API shows it; `live` is the program's live version number."""
    shown: dict[str, Any] = {
        "id": version.id,
        "program_id": version.program_id,  # type: ignore[attr-defined]
        "number": version.number,
        "status": version.status,
        "live": version.status == VersionStatus.PUBLISHED and version.number == live,
        "based_on": version.based_on,
        "note": version.note,
        "created_by": version.created_by,
        "published_by": version.published_by,
        "created_at": version.created_at,
        "published_at": version.published_at,
    }
    if with_document:
        shown["document"] = version.document
    return shown


async def list_versions(*, program_id: int) -> dict[str, Any]:
    """A program's versions, newest first (the live one written first if it has no row)."""
    async with in_transaction() as conn:
        program = await Program.get_or_none(id=program_id).using_db(conn)
        if program is None:
            raise NotFound("no such program", code="program_not_found")
        await ensure_live_version(program=program, conn=conn)
        versions = (
            await RuleSetVersion.filter(program_id=program_id).using_db(conn).order_by("-number")
        )
    return {
        "live": program.rule_set_version,
        "items": [
            serialize_version(v, live=program.rule_set_version, with_document=False)
            for v in versions
        ],
    }


async def get_version(*, version_id: int) -> tuple[RuleSetVersion, int]:
    """One version and its program's live number, else 404 rule_set_version_not_found."""
    version = await RuleSetVersion.filter(id=version_id).select_related("program").first()
    if version is None:
        raise version_not_found()
    return version, version.program.rule_set_version


async def version_changes(*, version_id: int) -> dict[str, Any]:
    """What a version changes against the version it was made from (none: everything)."""
    version, _live = await get_version(version_id=version_id)
    base = None
    if version.based_on is not None:
        base = await RuleSetVersion.get_or_none(
            program_id=version.program_id,  # type: ignore[attr-defined]
            number=version.based_on,
        )
    before = base.document if base is not None else {}
    return {"against": version.based_on, "changes": diff_documents(before, version.document)}


async def _audit(
    action: str,
    version: RuleSetVersion,
    details: dict[str, Any],
    *,
    actor: Principal,
    request_id: str | None,
    conn: BaseDBAsyncClient,
) -> None:
    await record_action(
        actor=actor,
        action=f"rule_set_version.{action}",
        target_kind="rule_set_version",
        target_id=version.id,
        program_id=version.program_id,  # type: ignore[attr-defined]
        details={"number": version.number, **details},
        request_id=request_id,
        using_db=conn,
    )


async def create_draft(
    *, program_id: int, note: str = "", actor: Principal, request_id: str | None = None
) -> tuple[RuleSetVersion, int]:
    """A new draft holding the live version's records; audited."""
    async with in_transaction() as conn:
        program = await locked_writable_program(program_id, conn)
        live = await ensure_live_version(program=program, conn=conn)
        version = RuleSetVersion(
            program_id=program.id,
            number=await next_number(program_id=program.id, conn=conn),
            status=VersionStatus.DRAFT.value,
            based_on=live.number,
            document=await live_document(program_id=program.id, conn=conn),
            note=note,
            created_by=actor.id,
        )
        await version.save(using_db=conn)
        await _audit(
            "create",
            version,
            {"based_on": live.number},
            actor=actor,
            request_id=request_id,
            conn=conn,
        )
    return version, program.rule_set_version


async def _locked_version(
    version_id: int, action: str, conn: BaseDBAsyncClient
) -> tuple[RuleSetVersion, Program]:
    # The program id is read before the locks (see config_records._program_id_of).
    program_id = (
        await RuleSetVersion.filter(id=version_id).first().values_list("program_id", flat=True)
    )
    if program_id is None:
        raise version_not_found()
    program = await locked_writable_program(int(program_id), conn)  # type: ignore[call-overload]
    version = await RuleSetVersion.filter(id=version_id).using_db(conn).select_for_update().first()
    if version is None:
        raise version_not_found()
    VERSION_LIFECYCLE.target(VersionStatus(version.status), action)
    return version, program


def _rule_terms(program: Program) -> ProgramTerms:
    return ProgramTerms.from_settings(
        program.id, settings_of(program), level_cap=commission_level_cap()
    )


async def _checked_row(
    kind: str,
    row: Mapping[str, Any] | None,
    changes: Mapping[str, Any],
    *,
    key: int,
    program: Program,
    conn: BaseDBAsyncClient,
) -> dict[str, Any]:
    """The row after `changes`, checked as its direct edit would be (422 naming each field)."""
    config = CONFIG_KINDS[kind]
    record: Model = (
        row_record(kind, row, program_id=program.id)
        if row is not None
        else MODELS[kind](program_id=program.id)
    )
    merged = {**(config.current(record) if row is not None else {}), **changes}
    item = await config.check(merged, record_id=max(key, 0), program=program, conn=conn)
    config.store(record, item, merged)
    checked = record_row(record)
    return checked if checked.get("id") is not None else {**checked, "id": None, "key": key}


def _check_rules(program: Program, rows: list[dict[str, Any]]) -> None:
    rules = []
    for row in rows:
        record = row_record("commission_rule", row, program_id=program.id)
        record.id = item_key(row)
        if record.enabled:
            rules.append(to_domain_rule(record))  # type: ignore[arg-type]
    ensure_rule_set_never_overpays(rules, terms=_rule_terms(program))


async def edit_draft(
    *,
    version_id: int,
    kind: str,
    key: int | None,
    changes: Mapping[str, Any],
    actor: Principal,
    request_id: str | None = None,
) -> tuple[RuleSetVersion, int]:
    """Add a record to a draft (`key` None) or change one (`enabled: false` to drop it from
    use); checked as a direct edit would be; audited."""
    if kind not in CONFIG_KINDS:
        raise ValidationFailed(
            "unknown kind of record",
            code="invalid_rule_set_kind",
            fields={"kind": ", ".join(KINDS)},
        )
    async with in_transaction() as conn:
        version, program = await _locked_version(version_id, "edit", conn)
        document = {name: list(version.document.get(name, [])) for name in KINDS}
        rows = document[kind]
        if key is None:
            index, row, key = len(rows), None, next_new_key(rows)
            rows.append({})
        else:
            found = [i for i, r in enumerate(rows) if item_key(r) == key]
            if not found:
                raise NotFound("no such record in this draft", code="rule_set_item_not_found")
            index, row = found[0], rows[found[0]]
        rows[index] = await _checked_row(kind, row, changes, key=key, program=program, conn=conn)
        if kind == "commission_rule":
            _check_rules(program, rows)
        version.document = document
        await version.save(using_db=conn)
        details = {"kind": kind, "key": key, "before": row, "after": rows[index]}
        await _audit("edit", version, details, actor=actor, request_id=request_id, conn=conn)
    return version, program.rule_set_version


async def discard_draft(
    *, version_id: int, actor: Principal, request_id: str | None = None
) -> tuple[RuleSetVersion, int]:
    """Discard a draft (it stays readable); audited."""
    async with in_transaction() as conn:
        version, program = await _locked_version(version_id, "discard", conn)
        version.status = VersionStatus.DISCARDED.value
        await version.save(using_db=conn)
        await _audit("discard", version, {}, actor=actor, request_id=request_id, conn=conn)
    return version, program.rule_set_version


async def _apply_row(
    kind: str, row: Mapping[str, Any], *, program: Program, conn: BaseDBAsyncClient
) -> Model | None:
    """Store one draft row on the live records; the record when it changed, else None."""
    model, config = MODELS[kind], CONFIG_KINDS[kind]
    wanted = row_record(kind, row, program_id=program.id)
    if row.get("id") is None:
        wanted.id = None  # type: ignore[assignment]
        await wanted.save(using_db=conn)
        return wanted
    record = await model.filter(id=row["id"], program_id=program.id).using_db(conn).first()
    if record is None:  # the draft names a record of no program of its own: never stored
        raise config.not_found()
    settings = {name: value for name, value in row.items() if name != "key"}
    if record_row(record) == settings:
        return None
    for name in settings:
        if name != "id":
            setattr(record, name, getattr(wanted, name))
    await record.save(using_db=conn)
    return record


async def publish_draft(
    *, version_id: int, actor: Principal, request_id: str | None = None
) -> tuple[RuleSetVersion, int]:
    """Make a draft the live version: its records stored, checked as a whole, the program's
    live number moved; 409 rule_set_draft_stale when another version went live since it
    was made. Audited with what changed."""
    async with in_transaction() as conn:
        version, program = await _locked_version(version_id, "publish", conn)
        if version.based_on != program.rule_set_version:
            raise Conflict(
                "another version went live since this draft was made: make a new draft",
                code="rule_set_draft_stale",
                fields={"based_on": version.based_on, "live": program.rule_set_version},
            )
        before = (await ensure_live_version(program=program, conn=conn)).document
        changed: list[tuple[str, Model]] = []
        for kind in KINDS:
            for row in version.document.get(kind, []):
                record = await _apply_row(kind, row, program=program, conn=conn)
                if record is not None:
                    changed.append((kind, record))
        for kind, record in changed:
            config = CONFIG_KINDS[kind]
            if config.guard is not None and getattr(record, "enabled", True):
                await config.guard(program, config.to_domain(record), conn)
        await make_live(program=program, version=version, actor=actor, conn=conn)
        diff = diff_documents(before, version.document)
        await _audit(
            "publish", version, {"changes": diff}, actor=actor, request_id=request_id, conn=conn
        )
    return version, program.rule_set_version
