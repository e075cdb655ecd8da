"""Programs: every setting validated as a whole, audited changes, archiving, the demo program."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from decimal import Decimal
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from server.auth import Principal
from server.config import commission_level_cap
from server.domain.errors import Conflict, NotFound, ValidationFailed
from server.domain.pagination import check_page_limit, next_cursor
from server.domain.programs.document import (
    MERGED_ON_PATCH,
    NESTED_KEYS,
    SCALAR_KEYS,
    apply_settings_patch,
    changed_settings,
    default_document,
    rate_text,
    settings_from_document,
    settings_to_document,
)
from server.domain.programs.lawful import lawful_settings
from server.domain.programs.settings import PROGRAM_LIFECYCLE, ProgramSettings, ProgramStatus
from server.models import Program, Promoter, Site
from server.services.access.audit import record_action
from server.services.access.scope import within
from server.services.programs.sites import insert_site

DEMO_PROGRAM_NAME = "Demo store"
DEMO_SITE_DOMAIN = "demo.example.com"
DEMO_DOCUMENT: dict[str, Any] = {
    "name": DEMO_PROGRAM_NAME,
    "description": "A demo program created by `make run`.",
    "currency": "CNY",
    "recruitment_mode": "open",
    "max_levels": 2,
    "level_rates": ["10", "5"],
    "self_rebate_enabled": True,
    "self_rebate_rate": "3",
    "bind_mode": "first_touch",
    "attribution_window_days": 30,
    "commission_window_days": 0,
    "freeze_days": 7,
    "withdrawal_rules": {"methods": ["wechat", "offline"]},
}


def _document_of(program: Program) -> dict[str, Any]:
    """The program's settings document; sections missing from an old row read as defaults."""
    defaults = default_document(program.currency)
    document: dict[str, Any] = {key: getattr(program, key) for key in SCALAR_KEYS}
    document["level_rates"] = list(program.level_rates or [])
    document["self_rebate_rate"] = rate_text(Decimal(program.self_rebate_rate))
    for key in NESTED_KEYS:
        stored = getattr(program, key) or {}
        if key in MERGED_ON_PATCH:
            document[key] = {**defaults[key], **stored}
        else:
            document[key] = dict(stored) or defaults[key]
    return document


def _store(program: Program, settings: ProgramSettings) -> None:
    document = settings_to_document(settings)
    for key, value in document.items():
        setattr(program, key, value)
    program.self_rebate_rate = settings.self_rebate_rate


def settings_of(program: Program) -> ProgramSettings:
    """The program's settings as the domain reads them (Decimals, tuples)."""
    return settings_from_document(_document_of(program))


def ensure_program_accepts_applications(program: Program) -> None:
    """Refuse new applications to an archived program (409 program_archived)."""
    if program.status != ProgramStatus.ACTIVE:
        raise Conflict("this program no longer accepts applications", code="program_archived")


async def get_program_for_application(
    *, program_id: int, using_db: BaseDBAsyncClient | None = None
) -> Program:
    """The program an applicant applies to: 404 if unknown, 409 program_archived if archived."""
    # On MariaDB the applicant's promoter INSERT takes a shared lock on this row through its
    # foreign key, so it serializes with a currency change (which locks the row for update).
    program = await Program.filter(id=program_id).using_db(using_db).first()
    if program is None:
        raise NotFound("no such program", code="program_not_found")
    ensure_program_accepts_applications(program)
    return program


async def _insert_program(
    settings: ProgramSettings,
    *,
    actor: Principal | None,
    request_id: str | None,
    conn: BaseDBAsyncClient,
) -> Program:
    program = Program(status=ProgramStatus.ACTIVE.value)
    _store(program, settings)
    await program.save(using_db=conn)
    await record_action(
        actor=actor,
        action="program.create",
        target_kind="program",
        target_id=program.id,
        program_id=program.id,
        details={"after": settings_to_document(settings)},
        request_id=request_id,
        using_db=conn,
    )
    return program


async def create_program(
    *, document: Mapping[str, Any], actor: Principal | None, request_id: str | None = None
) -> Program:
    """Create a program from a settings document (unset settings take their defaults)."""
    defaults = default_document(document.get("currency"))
    settings = lawful_settings(apply_settings_patch(defaults, document), cap=commission_level_cap())
    async with in_transaction() as conn:
        program = await _insert_program(settings, actor=actor, request_id=request_id, conn=conn)
    return program


async def _locked_program(program_id: int, conn: BaseDBAsyncClient) -> Program:
    program = await Program.filter(id=program_id).using_db(conn).select_for_update().first()
    if program is None:
        raise NotFound("no such program", code="program_not_found")
    return program


async def update_program(
    *,
    program_id: int,
    changes: Mapping[str, Any],
    actor: Principal,
    request_id: str | None = None,
) -> Program:
    """Apply a partial settings document, validated as a whole after the merge (audited)."""
    async with in_transaction() as conn:
        program = await _locked_program(program_id, conn)
        if program.status == ProgramStatus.ARCHIVED:
            raise Conflict("an archived program cannot be changed", code="program_archived")
        before = _document_of(program)
        # Checked before the settings: whatever else is asked, this one change cannot happen.
        if (
            changes.get("currency", program.currency) != program.currency
            and await Promoter.filter(program_id=program.id).using_db(conn).exists()
        ):
            raise Conflict(
                "the currency cannot change once the program has promoters",
                code="currency_locked",
                fields={"currency": "locked: the program has promoters"},
            )
        merged = apply_settings_patch(before, changes)
        settings = lawful_settings(merged, cap=commission_level_cap())
        changed = changed_settings(before, settings_to_document(settings))
        if not changed:
            return program
        _store(program, settings)
        await program.save(using_db=conn)
        await record_action(
            actor=actor,
            action="program.update",
            target_kind="program",
            target_id=program.id,
            program_id=program.id,
            details={"changes": changed},
            request_id=request_id,
            using_db=conn,
        )
    return program


async def archive_program(
    *, program_id: int, actor: Principal, request_id: str | None = None
) -> Program:
    """Archive a program: it stays readable but takes no new applications (audited)."""
    async with in_transaction() as conn:
        program = await _locked_program(program_id, conn)
        before = ProgramStatus(program.status)
        program.status = PROGRAM_LIFECYCLE.target(before, "archive").value
        await program.save(using_db=conn, update_fields=["status", "updated_at"])
        await record_action(
            actor=actor,
            action="program.archive",
            target_kind="program",
            target_id=program.id,
            program_id=program.id,
            details={"changes": {"status": {"before": before.value, "after": program.status}}},
            request_id=request_id,
            using_db=conn,
        )
    return program


async def get_program(*, program_id: int) -> Program:
    """A program whatever its status, else 404 program_not_found."""
    program = await Program.get_or_none(id=program_id)
    if program is None:
        raise NotFound("no such program", code="program_not_found")
    return program


async def get_public_program(*, program_id: int) -> Program:
    """A program shown to applicants: archived ones are 404 program_not_found."""
    program = await Program.get_or_none(id=program_id, status=ProgramStatus.ACTIVE.value)
    if program is None:
        raise NotFound("no such program", code="program_not_found")
    return program


async def list_programs(
    *,
    status: str | None = None,
    programs: Collection[int] | None = None,
    cursor: int | None = None,
    limit: int = 50,
) -> list[Program]:
    """Programs in id order; `cursor` is the last id of the previous page."""
    check_page_limit(limit)
    query = within(Program.all(), programs, column="id")
    if status is not None:
        if status not in {s.value for s in ProgramStatus}:
            raise ValidationFailed(
                "unknown program status", code="invalid_status", fields={"status": status}
            )
        query = query.filter(status=status)
    if cursor is not None:
        query = query.filter(id__gt=cursor)
    return await query.order_by("id").limit(limit)


async def ensure_demo_program() -> Program:
    """The demo program and its site, created on first call (idempotent)."""
    async with in_transaction() as conn:
        program = await Program.filter(name=DEMO_PROGRAM_NAME).using_db(conn).order_by("id").first()
        if program is None:
            cap = commission_level_cap()
            demo = {**DEMO_DOCUMENT, "max_levels": min(DEMO_DOCUMENT["max_levels"], cap)}
            demo["level_rates"] = DEMO_DOCUMENT["level_rates"][: demo["max_levels"]]
            settings = lawful_settings(apply_settings_patch(default_document("CNY"), demo), cap=cap)
            program = await _insert_program(settings, actor=None, request_id=None, conn=conn)
        if not await Site.exists(program_id=program.id, domain=DEMO_SITE_DOMAIN, using_db=conn):
            await insert_site(
                program=program,
                domain=DEMO_SITE_DOMAIN,
                name=DEMO_PROGRAM_NAME,
                market="CN",
                actor=None,
                request_id=None,
                conn=conn,
            )
    return program


def serialize_program(program: Program) -> dict[str, Any]:
    """Every setting, money and rates as strings, for staff."""
    return {
        "id": program.id,
        "status": program.status,
        **_document_of(program),
        # The live rule-set version (docs/rule-sets.md): changed by publishing, not by a PATCH.
        "rule_set_version": program.rule_set_version,
        "created_at": program.created_at,
        "updated_at": program.updated_at,
    }


def serialize_program_page(programs: list[Program], *, limit: int) -> dict[str, Any]:
    return {
        "items": [serialize_program(program) for program in programs],
        "next_cursor": next_cursor([row.id for row in programs], limit),
    }


def serialize_public_program(program: Program) -> dict[str, Any]:
    """What an applicant sees on the application page."""
    document = _document_of(program)
    return {
        "id": program.id,
        **{
            key: document[key]
            for key in (
                "name",
                "description",
                "currency",
                "recruitment_mode",
                "requirements",
                "max_levels",
                "level_rates",
                "self_rebate_enabled",
                "self_rebate_rate",
            )
        },
    }
