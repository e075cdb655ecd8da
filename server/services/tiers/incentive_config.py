"""A program's boosts and milestone bonuses as staff-managed configuration (checked, audited)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from server.auth import Principal
from server.domain.errors import ValidationFailed
from server.domain.money import read_decimal
from server.domain.programs.document import amount_text
from server.domain.tiers.benefits import Boost
from server.domain.tiers.checks import bonus_problems, boost_problems
from server.domain.tiers.rewards import MilestoneBonus
from server.models import CommissionBoostRecord, MilestoneBonusRecord, Program
from server.services.programs.config_records import (
    ConfigKind,
    create_record,
    get_record,
    program_records_page,
    serialize_record,
    set_record_enabled,
    update_record,
)
from server.services.tiers.config import to_domain_boost

BOOST_ERROR = "invalid_boost"
BONUS_ERROR = "invalid_milestone_bonus"


def _decimal(document: Mapping[str, Any], name: str, errors: dict[str, str]) -> Decimal | None:
    raw = document.get(name)
    if raw is None:
        return None
    value = read_decimal(raw)
    if value is None:
        errors[name] = "not a decimal"
    return value


def _tier_problem(tier: Any) -> dict[str, str]:
    if tier is not None and (not str(tier).strip() or len(str(tier)) > 32):
        return {"tier": "1 to 32 characters (null for every tier)"}
    return {}


# ---------------------------------------------------------------- boosts


def boost_document(record: CommissionBoostRecord, *, currency: str) -> dict[str, Any]:
    return {
        "name": record.name,
        "multiplier": str(Decimal(record.multiplier)),
        "tier": record.tier,
        "starts_at": record.starts_at.isoformat() if record.starts_at else None,
        "ends_at": record.ends_at.isoformat() if record.ends_at else None,
        "max_rate": str(Decimal(record.max_rate)) if record.max_rate is not None else None,
        "enabled": record.enabled,
    }


def _typed_boost(record: CommissionBoostRecord) -> dict[str, Any]:
    return {
        **boost_document(record, currency=""),
        "starts_at": record.starts_at,
        "ends_at": record.ends_at,
    }


async def _checked_boost(
    document: Mapping[str, Any], *, record_id: int, program: Program, conn: BaseDBAsyncClient
) -> Boost:
    errors: dict[str, str] = {}
    multiplier = _decimal(document, "multiplier", errors)
    max_rate = _decimal(document, "max_rate", errors)
    if multiplier is None and "multiplier" not in errors:
        errors["multiplier"] = "required"
    problems = boost_problems(
        multiplier=multiplier or Decimal(1),
        max_rate=max_rate,
        starts_at=document.get("starts_at"),
        ends_at=document.get("ends_at"),
    )
    errors = {**problems, **_tier_problem(document.get("tier")), **errors}
    if errors:
        raise ValidationFailed("invalid boost", code=BOOST_ERROR, fields=errors)
    return Boost(
        id=record_id,
        name=str(document.get("name") or ""),
        multiplier=multiplier or Decimal(1),
        starts_at=document["starts_at"],
        ends_at=document["ends_at"],
        tier=document.get("tier"),
        max_rate=max_rate,
        enabled=document.get("enabled") is not False,
    )


def _store_boost(record: CommissionBoostRecord, boost: Boost, document: Mapping[str, Any]) -> None:
    record.name = boost.name
    record.multiplier = boost.multiplier
    record.tier = boost.tier
    record.starts_at = boost.starts_at
    record.ends_at = boost.ends_at
    record.max_rate = boost.max_rate
    record.enabled = boost.enabled


BOOSTS: ConfigKind[CommissionBoostRecord, Boost] = ConfigKind(
    model=CommissionBoostRecord,
    name="boost",
    label="boost",
    to_domain=to_domain_boost,
    document=boost_document,
    current=_typed_boost,
    check=_checked_boost,
    store=_store_boost,
)


# ---------------------------------------------------------------- milestone bonuses


def to_domain_bonus(record: MilestoneBonusRecord) -> MilestoneBonus:
    return MilestoneBonus(
        id=record.id,
        program_id=record.program_id,  # type: ignore[attr-defined]
        name=record.name,
        target_net_sales=Decimal(record.target_net_sales),
        amount=Decimal(record.amount),
        starts_at=record.starts_at,
        ends_at=record.ends_at,
        tier=record.tier,
        max_awards=record.max_awards,
        enabled=record.enabled,
    )


def bonus_document(record: MilestoneBonusRecord, *, currency: str) -> dict[str, Any]:
    return {
        "name": record.name,
        "target_net_sales": amount_text(Decimal(record.target_net_sales), currency),
        "amount": amount_text(Decimal(record.amount), currency),
        "tier": record.tier,
        "starts_at": record.starts_at.isoformat() if record.starts_at else None,
        "ends_at": record.ends_at.isoformat() if record.ends_at else None,
        "max_awards": record.max_awards,
        "awarded_count": record.awarded_count,
        "enabled": record.enabled,
    }


def _typed_bonus(record: MilestoneBonusRecord) -> dict[str, Any]:
    return {
        **bonus_document(record, currency=""),
        "target_net_sales": Decimal(record.target_net_sales),
        "amount": Decimal(record.amount),
        "starts_at": record.starts_at,
        "ends_at": record.ends_at,
    }


async def _checked_bonus(
    document: Mapping[str, Any], *, record_id: int, program: Program, conn: BaseDBAsyncClient
) -> MilestoneBonus:
    errors: dict[str, str] = {}
    target = _decimal(document, "target_net_sales", errors)
    amount = _decimal(document, "amount", errors)
    for name, value in (("target_net_sales", target), ("amount", amount)):
        if value is None and name not in errors:
            errors[name] = "required"
    bonus = MilestoneBonus(
        id=record_id,
        program_id=program.id,
        name=str(document.get("name") or ""),
        target_net_sales=target or Decimal(1),
        amount=amount or Decimal(1),
        starts_at=document.get("starts_at"),  # type: ignore[arg-type]
        ends_at=document.get("ends_at"),  # type: ignore[arg-type]
        tier=document.get("tier"),
        max_awards=document.get("max_awards"),
        enabled=document.get("enabled") is not False,
    )
    errors = {
        **bonus_problems(bonus, currency=program.currency),
        **_tier_problem(bonus.tier),
        **errors,
    }
    if errors:
        raise ValidationFailed("invalid milestone bonus", code=BONUS_ERROR, fields=errors)
    return bonus


def _store_bonus(
    record: MilestoneBonusRecord, bonus: MilestoneBonus, document: Mapping[str, Any]
) -> None:
    record.name = bonus.name
    record.target_net_sales = bonus.target_net_sales
    record.amount = bonus.amount
    record.tier = bonus.tier
    record.starts_at = bonus.starts_at
    record.ends_at = bonus.ends_at
    record.max_awards = bonus.max_awards
    record.enabled = bonus.enabled


BONUSES: ConfigKind[MilestoneBonusRecord, MilestoneBonus] = ConfigKind(
    model=MilestoneBonusRecord,
    name="milestone_bonus",
    label="milestone bonus",
    to_domain=to_domain_bonus,
    document=bonus_document,
    current=_typed_bonus,
    check=_checked_bonus,
    store=_store_bonus,
)

KINDS: Mapping[str, ConfigKind[Any, Any]] = {"boost": BOOSTS, "milestone_bonus": BONUSES}


def serialize_incentive(kind: str, record: Any, *, currency: str) -> dict[str, Any]:
    return serialize_record(record, KINDS[kind], currency=currency)


async def create_incentive(
    *,
    kind: str,
    program_id: int,
    document: Mapping[str, Any],
    actor: Principal,
    request_id: str | None,
) -> tuple[Any, str]:
    """Add a boost or a milestone bonus to a program (checked, audited)."""
    return await create_record(
        KINDS[kind], program_id=program_id, document=document, actor=actor, request_id=request_id
    )


async def update_incentive(
    *,
    kind: str,
    record_id: int,
    changes: Mapping[str, Any],
    actor: Principal,
    request_id: str | None,
) -> tuple[Any, str]:
    """Change a boost or a milestone bonus (checked as a whole); audited."""
    return await update_record(
        KINDS[kind], record_id=record_id, changes=changes, actor=actor, request_id=request_id
    )


async def set_incentive_enabled(
    *, kind: str, record_id: int, enabled: bool, actor: Principal, request_id: str | None
) -> tuple[Any, str]:
    """Disable a boost or bonus (nothing new uses it) or enable it again; audited."""
    return await set_record_enabled(
        KINDS[kind], record_id=record_id, enabled=enabled, actor=actor, request_id=request_id
    )


async def get_incentive(*, kind: str, record_id: int) -> tuple[Any, str]:
    """One boost or bonus and its program's currency, else 404."""
    return await get_record(KINDS[kind], record_id=record_id)


async def list_incentives(
    *, kind: str, program_id: int, enabled: bool | None, cursor: int | None, limit: int
) -> dict[str, Any]:
    """A page of a program's boosts or bonuses in id order."""
    return await program_records_page(
        KINDS[kind], program_id=program_id, enabled=enabled, cursor=cursor, limit=limit
    )
