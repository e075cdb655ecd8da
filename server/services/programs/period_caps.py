"""Per-promoter day/month earnings caps as stored, staff-managed configuration.

A commission stores the room its cap left (`period_room`), so an edit never changes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from server.auth import Principal
from server.domain.commissions.rules import PERIOD_CAP_ERROR, PeriodCap, validate_period_cap
from server.domain.errors import ValidationFailed
from server.domain.programs.document import amount_text
from server.models import PeriodCapRecord, Program
from server.services.programs.config_records import (
    ConfigKind,
    create_record,
    get_record,
    program_records_page,
    scope_reference_errors,
    serialize_record,
    set_record_enabled,
    update_record,
)


def to_domain_cap(record: PeriodCapRecord) -> PeriodCap:
    """The engine's view of a stored cap (its days and months are the program's time zone's)."""
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
    return serialize_record(record, CAPS, currency=currency)


async def _checked_cap(
    document: Mapping[str, Any], *, record_id: int, program: Program, conn: BaseDBAsyncClient
) -> PeriodCap:
    errors: dict[str, str] = {}
    amount = Decimal(0)
    try:
        amount = Decimal(str(document.get("amount")))
    except InvalidOperation:
        errors["amount"] = "not a number"
    cap = PeriodCap(
        id=record_id,
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


def _store(record: PeriodCapRecord, cap: PeriodCap, document: Mapping[str, Any]) -> None:
    record.period = cap.period
    record.amount = cap.amount
    record.promoter_id = cap.promoter_id  # type: ignore[attr-defined]
    record.tier = cap.tier
    record.enabled = cap.enabled


def _typed_document(record: PeriodCapRecord) -> dict[str, Any]:
    """The stored cap as parsed values (what a patch is merged into)."""
    return {
        "period": record.period,
        "amount": Decimal(record.amount),
        "promoter_id": record.promoter_id,  # type: ignore[attr-defined]
        "tier": record.tier,
        "enabled": record.enabled,
    }


CAPS: ConfigKind[PeriodCapRecord, PeriodCap] = ConfigKind(
    model=PeriodCapRecord,
    name="period_cap",
    label="period cap",
    to_domain=to_domain_cap,
    document=cap_document,
    current=_typed_document,
    check=_checked_cap,
    store=_store,
)


async def create_cap(
    *,
    program_id: int,
    document: Mapping[str, Any],
    actor: Principal,
    request_id: str | None = None,
) -> tuple[PeriodCapRecord, str]:
    """Add a period cap to a program (checked, audited); returns it and the currency."""
    return await create_record(
        CAPS, program_id=program_id, document=document, actor=actor, request_id=request_id
    )


async def update_cap(
    *,
    cap_id: int,
    changes: Mapping[str, Any],
    actor: Principal,
    request_id: str | None = None,
) -> tuple[PeriodCapRecord, str]:
    """Change some fields of a cap (null clears promoter or tier); checked, audited."""
    return await update_record(
        CAPS, record_id=cap_id, changes=changes, actor=actor, request_id=request_id
    )


async def set_cap_enabled(
    *, cap_id: int, enabled: bool, actor: Principal, request_id: str | None = None
) -> tuple[PeriodCapRecord, str]:
    """Disable a cap (new orders are no longer limited by it) or enable it again; audited."""
    return await set_record_enabled(
        CAPS, record_id=cap_id, enabled=enabled, actor=actor, request_id=request_id
    )


async def get_cap(*, cap_id: int) -> tuple[PeriodCapRecord, str]:
    """One cap and its program's currency, else 404 period_cap_not_found."""
    return await get_record(CAPS, record_id=cap_id)


async def list_caps(
    *, program_id: int, enabled: bool | None = None, cursor: int | None = None, limit: int = 50
) -> dict[str, Any]:
    """A page of a program's caps in id order; `cursor` is the last id of the previous page."""
    return await program_records_page(
        CAPS, program_id=program_id, enabled=enabled, cursor=cursor, limit=limit
    )
