"""Per-promoter day/month earnings caps as stored, staff-managed configuration.

A cap covers one promoter, every promoter of a tier, or the whole program (see
server/domain/commissions/rules.py for which cap binds). Its days and months are those of the
program's `time_zone` setting (default Asia/Shanghai): a daily cap resets at local midnight
(the engine's terms carry the zone, see `ProgramTerms.from_settings`;
server/domain/periods.py has the boundaries for every per-period feature).

Every write is audited in its transaction; archived programs are read-only (409
program_archived). Like rules, caps stay editable: each commission stores the room its cap
left (`period_room`), so an edit never changes a commission already made.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from server.auth import Principal
from server.domain.commissions.rules import PERIOD_CAP_ERROR, PeriodCap, validate_period_cap
from server.domain.errors import NotFound, ValidationFailed
from server.domain.programs.document import amount_text
from server.models import PeriodCapRecord, Program
from server.services.access.audit import record_action
from server.services.programs.commission_rules import (
    locked_writable_program,
    program_records_page,
    scope_reference_errors,
)


def to_domain_cap(record: PeriodCapRecord) -> PeriodCap:
    """The engine's view of a stored cap."""
    return PeriodCap(
        id=record.id,
        program_id=record.program_id,  # type: ignore[attr-defined]
        period=record.period,
        amount=Decimal(record.amount),
        promoter_id=record.promoter_id,  # type: ignore[attr-defined]
        tier=record.tier,
        enabled=record.enabled,
    )


async def load_period_caps(
    *, program_id: int, conn: BaseDBAsyncClient | None = None
) -> list[PeriodCap]:
    """The program's enabled caps, oldest first."""
    records = (
        await PeriodCapRecord.filter(program_id=program_id, enabled=True)
        .using_db(conn)
        .order_by("id")
    )
    return [to_domain_cap(record) for record in records]


def cap_document(record: PeriodCapRecord, *, currency: str) -> dict[str, Any]:
    """A cap's settings, JSON-safe: what the API shows and the audit log keeps."""
    return {
        "period": record.period,
        "amount": amount_text(Decimal(record.amount), currency),
        "promoter_id": record.promoter_id,  # type: ignore[attr-defined]
        "tier": record.tier,
        "enabled": record.enabled,
    }


def serialize_cap(record: PeriodCapRecord, *, currency: str) -> dict[str, Any]:
    return {
        "id": record.id,
        "program_id": record.program_id,  # type: ignore[attr-defined]
        "currency": currency,
        **cap_document(record, currency=currency),
        "created_at": record.created_at,
        "updated_at": record.updated_at,
    }


async def _checked_cap(
    document: Mapping[str, Any], *, cap_id: int, program: Program, conn: BaseDBAsyncClient
) -> PeriodCap:
    errors: dict[str, str] = {}
    amount = Decimal(0)
    try:
        amount = Decimal(str(document.get("amount")))
    except InvalidOperation:
        errors["amount"] = "not a number"
    cap = PeriodCap(
        id=cap_id,
        program_id=program.id,
        period=document.get("period") or "",
        amount=amount,
        promoter_id=document.get("promoter_id"),
        tier=document.get("tier"),
        enabled=document.get("enabled") is not False,
    )
    try:
        validate_period_cap(cap, currency=program.currency)
    except ValidationFailed as failure:
        errors = {**failure.fields, **errors}
    errors.update(
        await scope_reference_errors(
            program_id=program.id, site_id=None, promoter_id=cap.promoter_id, conn=conn
        )
    )
    if errors:
        raise ValidationFailed("invalid period cap", code=PERIOD_CAP_ERROR, fields=errors)
    return cap


def _store(record: PeriodCapRecord, cap: PeriodCap) -> None:
    record.period = cap.period
    record.amount = cap.amount
    record.promoter_id = cap.promoter_id  # type: ignore[attr-defined]
    record.tier = cap.tier
    record.enabled = cap.enabled


async def create_cap(
    *,
    program_id: int,
    document: Mapping[str, Any],
    actor: Principal,
    request_id: str | None = None,
) -> tuple[PeriodCapRecord, str]:
    """Add a period cap to a program (checked, audited); returns it and the currency."""
    async with in_transaction() as conn:
        program = await locked_writable_program(program_id, conn)
        cap = await _checked_cap(document, cap_id=0, program=program, conn=conn)
        record = PeriodCapRecord(program_id=program.id)
        _store(record, cap)
        await record.save(using_db=conn)
        await record_action(
            actor=actor,
            action="period_cap.create",
            target_kind="period_cap",
            target_id=record.id,
            program_id=program.id,
            details={"after": cap_document(record, currency=program.currency)},
            request_id=request_id,
            using_db=conn,
        )
    return record, program.currency


async def _cap_program_id(cap_id: int) -> int:
    program_id = (
        await PeriodCapRecord.filter(id=cap_id).first().values_list("program_id", flat=True)
    )
    if program_id is None:
        raise NotFound("no such period cap", code="period_cap_not_found")
    return int(program_id)  # type: ignore[call-overload]


async def _locked_cap(
    cap_id: int, program_id: int, conn: BaseDBAsyncClient
) -> tuple[PeriodCapRecord, Program]:
    program = await locked_writable_program(program_id, conn)
    record = await PeriodCapRecord.filter(id=cap_id).using_db(conn).select_for_update().first()
    if record is None:
        raise NotFound("no such period cap", code="period_cap_not_found")
    return record, program


async def update_cap(
    *,
    cap_id: int,
    changes: Mapping[str, Any],
    actor: Principal,
    request_id: str | None = None,
) -> tuple[PeriodCapRecord, str]:
    """Change some fields of a cap (null clears promoter or tier); checked, audited."""
    program_id = await _cap_program_id(cap_id)
    async with in_transaction() as conn:
        record, program = await _locked_cap(cap_id, program_id, conn)
        before = cap_document(record, currency=program.currency)
        current = {
            "period": record.period,
            "amount": Decimal(record.amount),
            "promoter_id": record.promoter_id,  # type: ignore[attr-defined]
            "tier": record.tier,
            "enabled": record.enabled,
        }
        cap = await _checked_cap(
            {**current, **changes}, cap_id=record.id, program=program, conn=conn
        )
        _store(record, cap)
        after = cap_document(record, currency=program.currency)
        if after != before:
            await record.save(using_db=conn)
            await record_action(
                actor=actor,
                action="period_cap.update",
                target_kind="period_cap",
                target_id=record.id,
                program_id=program.id,
                details={"before": before, "after": after},
                request_id=request_id,
                using_db=conn,
            )
    return record, program.currency


async def set_cap_enabled(
    *, cap_id: int, enabled: bool, actor: Principal, request_id: str | None = None
) -> tuple[PeriodCapRecord, str]:
    """Disable a cap (new orders are no longer limited by it) or enable it again; audited."""
    program_id = await _cap_program_id(cap_id)
    async with in_transaction() as conn:
        record, program = await _locked_cap(cap_id, program_id, conn)
        if record.enabled != enabled:
            record.enabled = enabled
            await record.save(using_db=conn, update_fields=["enabled", "updated_at"])
            await record_action(
                actor=actor,
                action="period_cap.enable" if enabled else "period_cap.disable",
                target_kind="period_cap",
                target_id=record.id,
                program_id=program.id,
                details={"changes": {"enabled": {"before": not enabled, "after": enabled}}},
                request_id=request_id,
                using_db=conn,
            )
    return record, program.currency


async def get_cap(*, cap_id: int) -> tuple[PeriodCapRecord, str]:
    """One cap and its program's currency, else 404 period_cap_not_found."""
    record = await PeriodCapRecord.filter(id=cap_id).select_related("program").first()
    if record is None:
        raise NotFound("no such period cap", code="period_cap_not_found")
    return record, record.program.currency


async def list_caps(
    *, program_id: int, enabled: bool | None = None, cursor: int | None = None, limit: int = 50
) -> dict[str, Any]:
    """A page of a program's caps in id order; `cursor` is the last id of the previous page."""
    return await program_records_page(
        PeriodCapRecord,
        serialize_cap,
        program_id=program_id,
        enabled=enabled,
        cursor=cursor,
        limit=limit,
    )
