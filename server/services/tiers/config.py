"""A program's tiers as staff-managed configuration, and what the commission engine reads of
its tiers and boosts."""

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
from server.domain.tiers.checks import tier_problems
from server.domain.tiers.ladder import DEFAULT_TIER, Tier, TierBenefits
from server.models import CommissionBoostRecord, Program, PromoterTierRecord
from server.services.programs.config_records import (
    ConfigKind,
    create_record,
    get_record,
    program_records_page,
    serialize_record,
    set_record_enabled,
    update_record,
)

TIER_ERROR = "invalid_tier"


def _decimal_or_none(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value)


def to_domain_tier(record: PromoterTierRecord) -> Tier:
    """The rules' view of a stored tier."""
    return Tier(
        id=record.id,
        code=record.code,
        name=record.name,
        rank=record.rank,
        period_days=record.period_days,
        min_net_sales=_decimal_or_none(record.min_net_sales),
        min_settled_commissions=_decimal_or_none(record.min_settled_commissions),
        min_paying_customers=record.min_paying_customers,
        benefits=TierBenefits(
            code=record.code,
            level_rates={int(k): Decimal(str(v)) for k, v in (record.level_rates or {}).items()},
            rate_multiplier=_decimal_or_none(record.rate_multiplier),
            freeze_days=record.freeze_days,
            auto_approve=record.auto_approve,
        ),
        enabled=record.enabled,
    )


def to_domain_boost(record: CommissionBoostRecord) -> Boost:
    """The engine's view of a stored boost."""
    return Boost(
        id=record.id,
        name=record.name,
        multiplier=Decimal(record.multiplier),
        starts_at=record.starts_at,
        ends_at=record.ends_at,
        tier=record.tier,
        max_rate=_decimal_or_none(record.max_rate),
        enabled=record.enabled,
    )


async def load_tiers(*, program_id: int, conn: BaseDBAsyncClient | None = None) -> list[Tier]:
    """The program's enabled tiers, lowest rank first."""
    records = (
        await PromoterTierRecord.filter(program_id=program_id, enabled=True)
        .using_db(conn)
        .order_by("rank", "id")
    )
    return [to_domain_tier(record) for record in records]


async def incentive_terms(
    *, program_id: int, conn: BaseDBAsyncClient | None = None
) -> tuple[dict[str, TierBenefits], tuple[Boost, ...]]:
    """(benefits by tier code, enabled boosts): what the engine adds to a program's terms."""
    tiers = await load_tiers(program_id=program_id, conn=conn)
    boosts = (
        await CommissionBoostRecord.filter(program_id=program_id, enabled=True)
        .using_db(conn)
        .order_by("id")
    )
    return (
        {tier.code: tier.benefits for tier in tiers},
        tuple(to_domain_boost(record) for record in boosts),
    )


def tier_document(record: PromoterTierRecord, *, currency: str | None) -> dict[str, Any]:
    """A tier's settings, JSON-safe: what the API shows and the audit log keeps; amounts
    with the currency's digits, or exactly as stored when `currency` is None."""

    def money(value: Any) -> str | None:
        if value is None:
            return None
        amount = Decimal(value)
        return format(amount, "f") if currency is None else amount_text(amount, currency)

    return {
        "code": record.code,
        "name": record.name,
        "rank": record.rank,
        "period_days": record.period_days,
        "min_net_sales": money(record.min_net_sales),
        "min_settled_commissions": money(record.min_settled_commissions),
        "min_paying_customers": record.min_paying_customers,
        "level_rates": {str(k): str(v) for k, v in sorted((record.level_rates or {}).items())},
        "rate_multiplier": (
            str(Decimal(record.rate_multiplier)) if record.rate_multiplier is not None else None
        ),
        "freeze_days": record.freeze_days,
        "auto_approve": record.auto_approve,
        "enabled": record.enabled,
    }


def _typed_tier(record: PromoterTierRecord) -> dict[str, Any]:
    """The stored settings as a change is checked against them: amounts exactly as stored."""
    return {**tier_document(record, currency=None), "level_rates": dict(record.level_rates or {})}


def _parsed(document: Mapping[str, Any], name: str, errors: dict[str, str]) -> Decimal | None:
    raw = document.get(name)
    if raw is None:
        return None
    value = read_decimal(raw)
    if value is None:
        errors[name] = "not a decimal"
    return value


def _level_rates(raw: Any, errors: dict[str, str]) -> dict[int, Decimal]:
    rates: dict[int, Decimal] = {}
    if not isinstance(raw, Mapping):
        errors["level_rates"] = 'an object of level to percent, e.g. {"1": "12"}'
        return rates
    for key, value in raw.items():
        rate = read_decimal(value)
        if not str(key).isdigit() or rate is None:
            errors[f"level_rates.{key}"] = "a level (0..3) to a decimal percent"
            continue
        rates[int(key)] = rate
    return rates


def _rank(document: Mapping[str, Any]) -> int:
    """The rank given, else 0 for the default tier and 1 for any other."""
    rank = document.get("rank")
    return int(rank) if rank is not None else int(document.get("code") != DEFAULT_TIER)


async def _checked_tier(
    document: Mapping[str, Any], *, record_id: int, program: Program, conn: BaseDBAsyncClient
) -> Tier:
    errors: dict[str, str] = {}
    conditions = {
        "min_net_sales": _parsed(document, "min_net_sales", errors),
        "min_settled_commissions": _parsed(document, "min_settled_commissions", errors),
        "min_paying_customers": document.get("min_paying_customers"),
    }
    multiplier = _parsed(document, "rate_multiplier", errors)
    level_rates = _level_rates(document.get("level_rates") or {}, errors)
    code = str(document.get("code") or "")
    errors = {
        **tier_problems(
            code=code,
            rank=_rank(document),
            period_days=int(document.get("period_days") or 30),
            conditions=conditions,
            level_rates=level_rates,
            rate_multiplier=multiplier,
            freeze_days=document.get("freeze_days"),
            currency=program.currency,
        ),
        **errors,
    }
    clash = PromoterTierRecord.filter(program_id=program.id, code=code).exclude(id=record_id)
    if "code" not in errors and await clash.using_db(conn).exists():
        errors["code"] = "another tier of this program has this code"
    if record_id:
        stored = await PromoterTierRecord.filter(id=record_id).using_db(conn).first()
        if stored is not None and stored.code != code:
            errors["code"] = "a tier's code cannot change (promoters and rules name it)"
    if errors:
        raise ValidationFailed("invalid tier", code=TIER_ERROR, fields=errors)
    record = PromoterTierRecord(
        id=record_id,
        code=code,
        name=str(document.get("name") or code),
        rank=_rank(document),
        period_days=int(document.get("period_days") or 30),
        min_net_sales=conditions["min_net_sales"],
        min_settled_commissions=conditions["min_settled_commissions"],
        min_paying_customers=conditions["min_paying_customers"],
        level_rates={str(k): str(v) for k, v in level_rates.items()},
        rate_multiplier=multiplier,
        freeze_days=document.get("freeze_days"),
        auto_approve=bool(document.get("auto_approve")),
        enabled=document.get("enabled") is not False,
    )
    return to_domain_tier(record)


def _store_tier(record: PromoterTierRecord, tier: Tier, document: Mapping[str, Any]) -> None:
    record.code = tier.code
    record.name = tier.name
    record.rank = tier.rank
    record.period_days = tier.period_days
    record.min_net_sales = tier.min_net_sales
    record.min_settled_commissions = tier.min_settled_commissions
    record.min_paying_customers = tier.min_paying_customers
    record.level_rates = {str(k): str(v) for k, v in tier.benefits.level_rates.items()}
    record.rate_multiplier = tier.benefits.rate_multiplier
    record.freeze_days = tier.benefits.freeze_days
    record.auto_approve = tier.benefits.auto_approve
    record.enabled = tier.enabled


TIERS: ConfigKind[PromoterTierRecord, Tier] = ConfigKind(
    model=PromoterTierRecord,
    name="tier",
    label="tier",
    to_domain=to_domain_tier,
    document=tier_document,
    current=_typed_tier,
    check=_checked_tier,
    store=_store_tier,
)


def serialize_tier(record: PromoterTierRecord, *, currency: str) -> dict[str, Any]:
    return serialize_record(record, TIERS, currency=currency)


async def create_tier(
    *, program_id: int, document: Mapping[str, Any], actor: Principal, request_id: str | None
) -> tuple[PromoterTierRecord, str]:
    """Add a tier to a program (checked, audited); returns it and the program currency."""
    return await create_record(
        TIERS, program_id=program_id, document=document, actor=actor, request_id=request_id
    )


async def update_tier(
    *, tier_id: int, changes: Mapping[str, Any], actor: Principal, request_id: str | None
) -> tuple[PromoterTierRecord, str]:
    """Change a tier's name, rank, conditions or benefits (not its code); audited."""
    return await update_record(
        TIERS, record_id=tier_id, changes=changes, actor=actor, request_id=request_id
    )


async def set_tier_enabled(
    *, tier_id: int, enabled: bool, actor: Principal, request_id: str | None
) -> tuple[PromoterTierRecord, str]:
    """Disable a tier (the next evaluation moves its members down) or enable it; audited."""
    return await set_record_enabled(
        TIERS, record_id=tier_id, enabled=enabled, actor=actor, request_id=request_id
    )


async def get_tier(*, tier_id: int) -> tuple[PromoterTierRecord, str]:
    """One tier and its program's currency, else 404 tier_not_found."""
    return await get_record(TIERS, record_id=tier_id)


async def list_tiers(
    *, program_id: int, enabled: bool | None, cursor: int | None, limit: int
) -> dict[str, Any]:
    """A page of a program's tiers in id order."""
    return await program_records_page(
        TIERS, program_id=program_id, enabled=enabled, cursor=cursor, limit=limit
    )
