"""Commission rules as stored, staff-managed configuration, and their loading for the engine.

Staff create, edit, disable and re-enable rules; a commission keeps a snapshot of its rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q

from server.auth import Principal
from server.config import commission_level_cap
from server.domain.commissions.inputs import ProgramTerms
from server.domain.commissions.rule_guard import ensure_rule_set_never_overpays
from server.domain.commissions.rules import (
    RULE_ERROR,
    CommissionRule,
    RuleKind,
    commission_rule_errors,
)
from server.domain.errors import ValidationFailed
from server.domain.programs.document import amount_text, rate_text
from server.domain.programs.levels import over_cap_error, rule_level_over_cap
from server.models import CommissionRuleRecord, Program
from server.services.catalog.reads import name_documents
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
from server.services.programs.settings import settings_of

MAX_RULE_NAME_LENGTH = 128
MAX_PRIORITY = 1_000_000
_STORED_FIELDS = (
    "kind",
    "value",
    "level",
    "product_id",
    "category",
    "campaign",
    "site_id",
    "tier",
    "promoter_id",
    "valid_from",
    "valid_to",
    "cap_per_line",
    "priority",
    "enabled",
)


# ---------------------------------------------------------------- domain objects


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def to_domain_rule(record: CommissionRuleRecord) -> CommissionRule:
    """The engine's view of a stored rule."""
    return CommissionRule(
        id=record.id,
        program_id=record.program_id,  # type: ignore[attr-defined]
        kind=record.kind,
        # Canonical text ("20", not "20.0000"): explanations show the value as staff typed it.
        value=Decimal(rate_text(Decimal(record.value))),
        level=record.level,
        product_id=record.product_id,
        category=record.category,
        campaign=record.campaign,
        site_id=record.site_id,  # type: ignore[attr-defined]
        tier=record.tier,
        promoter_id=record.promoter_id,  # type: ignore[attr-defined]
        valid_from=_utc(record.valid_from),
        valid_to=_utc(record.valid_to),
        cap_per_line=Decimal(record.cap_per_line) if record.cap_per_line is not None else None,
        priority=record.priority,
        enabled=record.enabled,
    )


async def load_rules(
    *, program_id: int, at: datetime | None = None, conn: BaseDBAsyncClient | None = None
) -> list[CommissionRule]:
    """The program's enabled rules (only those in force at `at` when given), oldest first."""
    query = CommissionRuleRecord.filter(program_id=program_id, enabled=True)
    if at is not None:
        moment = at.astimezone(UTC)
        query = query.filter(Q(valid_from=None) | Q(valid_from__lte=moment)).filter(
            Q(valid_to=None) | Q(valid_to__gt=moment)
        )
    return [to_domain_rule(record) for record in await query.using_db(conn).order_by("id")]


# ---------------------------------------------------------------- documents


def _value_text(kind: str, value: Decimal, currency: str) -> str:
    return rate_text(value) if kind == RuleKind.PERCENT else amount_text(value, currency)


def rule_document(record: CommissionRuleRecord, *, currency: str) -> dict[str, Any]:
    """A rule's settings, JSON-safe (decimals as strings, times ISO-8601): API and audit."""
    rule = to_domain_rule(record)
    document: dict[str, Any] = {"name": record.name}
    for field in _STORED_FIELDS:
        value = getattr(rule, field)
        if isinstance(value, datetime):
            value = value.isoformat()
        document[field] = value
    document["value"] = _value_text(rule.kind, rule.value, currency)
    if rule.cap_per_line is not None:
        document["cap_per_line"] = amount_text(rule.cap_per_line, currency)
    return document


def serialize_rule(record: CommissionRuleRecord, *, currency: str) -> dict[str, Any]:
    return serialize_record(record, RULES, currency=currency)


async def named_rule(record: CommissionRuleRecord, *, currency: str) -> dict[str, Any]:
    """A rule as the API shows it, with the catalog's names of its product and category."""
    [document] = await name_documents(
        program_id=record.program_id,  # type: ignore[attr-defined]
        documents=[serialize_rule(record, currency=currency)],
    )
    return document


# ---------------------------------------------------------------- parsing and checking


def _decimal(raw: Any, name: str, errors: dict[str, str]) -> Decimal | None:
    if raw is None:
        return None
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        errors[name] = "not a number"
        return None
    if not value.is_finite():
        errors[name] = "not a number"
        return None
    return value


def _label_errors(document: Mapping[str, Any], errors: dict[str, str]) -> None:
    name = document.get("name") or ""
    if len(name) > MAX_RULE_NAME_LENGTH:
        errors["name"] = f"at most {MAX_RULE_NAME_LENGTH} characters"
    if not -MAX_PRIORITY <= int(document.get("priority") or 0) <= MAX_PRIORITY:
        errors["priority"] = f"between -{MAX_PRIORITY} and {MAX_PRIORITY}"


def rule_from_document(
    document: Mapping[str, Any], *, rule_id: int, program_id: int, currency: str
) -> tuple[CommissionRule, dict[str, str]]:
    """The domain rule a document describes, and every broken field (empty when usable)."""
    errors: dict[str, str] = {}
    _label_errors(document, errors)
    value = _decimal(document.get("value"), "value", errors)
    cap = _decimal(document.get("cap_per_line"), "cap_per_line", errors)
    if value is None and "value" not in errors:
        errors["value"] = "required"
    rule = CommissionRule(
        id=rule_id,
        program_id=program_id,
        kind=document.get("kind") or "",
        value=value if value is not None else Decimal(0),
        level=document.get("level"),
        product_id=document.get("product_id"),
        category=document.get("category"),
        campaign=document.get("campaign"),
        site_id=document.get("site_id"),
        tier=document.get("tier"),
        promoter_id=document.get("promoter_id"),
        valid_from=document.get("valid_from"),
        valid_to=document.get("valid_to"),
        cap_per_line=cap,
        priority=int(document.get("priority") or 0),
        enabled=document.get("enabled") is not False,
    )
    for name, problem in commission_rule_errors(rule, currency=currency).items():
        errors.setdefault(name, problem)
    return rule, errors


async def _checked_rule(
    document: Mapping[str, Any], *, record_id: int, program: Program, conn: BaseDBAsyncClient
) -> CommissionRule:
    # Every broken field at once: the domain's checks (server/domain/commissions/rules.py)
    # and the scope's references, which must belong to the program.
    rule, errors = rule_from_document(
        document, rule_id=record_id, program_id=program.id, currency=program.currency
    )
    errors.update(
        await scope_reference_errors(
            program_id=program.id, site_id=rule.site_id, promoter_id=rule.promoter_id, conn=conn
        )
    )
    cap = commission_level_cap()
    if "level" not in errors and (over := rule_level_over_cap(rule.level, cap)):
        raise over_cap_error({**errors, **over}, cap=cap)
    if errors:
        raise ValidationFailed("invalid commission rule", code=RULE_ERROR, fields=errors)
    return rule


async def _ensure_set_is_safe(
    program: Program, saved: CommissionRule, conn: BaseDBAsyncClient
) -> None:
    # The whole enabled set must never pay more than a line's net in percent commissions
    # (422 rule_set_overpays); the program lock keeps two saves from passing it each alone.
    if not saved.enabled:
        return
    others = [
        rule for rule in await load_rules(program_id=program.id, conn=conn) if rule.id != saved.id
    ]
    terms = ProgramTerms.from_settings(
        program.id, settings_of(program), level_cap=commission_level_cap()
    )
    ensure_rule_set_never_overpays([*others, saved], terms=terms)


def _store(record: CommissionRuleRecord, rule: CommissionRule, document: Mapping[str, Any]) -> None:
    record.name = document.get("name") or ""
    for field in _STORED_FIELDS:
        setattr(record, field, getattr(rule, field))


def _typed_document(record: CommissionRuleRecord) -> dict[str, Any]:
    """The stored rule as parsed values (what a patch is merged into)."""
    rule = to_domain_rule(record)
    return {"name": record.name, **{field: getattr(rule, field) for field in _STORED_FIELDS}}


RULES: ConfigKind[CommissionRuleRecord, CommissionRule] = ConfigKind(
    model=CommissionRuleRecord,
    name="commission_rule",
    label="commission rule",
    to_domain=to_domain_rule,
    document=rule_document,
    current=_typed_document,
    check=_checked_rule,
    store=_store,
    guard=_ensure_set_is_safe,
)


# ---------------------------------------------------------------- use cases


async def create_rule(
    *,
    program_id: int,
    document: Mapping[str, Any],
    actor: Principal,
    request_id: str | None = None,
) -> tuple[CommissionRuleRecord, str]:
    """Add a rule to a program (checked, audited); returns the rule and the program currency."""
    return await create_record(
        RULES, program_id=program_id, document=document, actor=actor, request_id=request_id
    )


async def update_rule(
    *,
    rule_id: int,
    changes: Mapping[str, Any],
    actor: Principal,
    request_id: str | None = None,
) -> tuple[CommissionRuleRecord, str]:
    """Change some fields of a rule (null clears an optional one); checked as a whole, audited."""
    return await update_record(
        RULES, record_id=rule_id, changes=changes, actor=actor, request_id=request_id
    )


async def set_rule_enabled(
    *, rule_id: int, enabled: bool, actor: Principal, request_id: str | None = None
) -> tuple[CommissionRuleRecord, str]:
    """Disable a rule (new orders stop using it) or enable it again (checked); audited."""
    return await set_record_enabled(
        RULES, record_id=rule_id, enabled=enabled, actor=actor, request_id=request_id
    )


async def get_rule(*, rule_id: int) -> tuple[CommissionRuleRecord, str]:
    """One rule and its program's currency, else 404 commission_rule_not_found."""
    return await get_record(RULES, record_id=rule_id)


async def list_rules(
    *, program_id: int, enabled: bool | None = None, cursor: int | None = None, limit: int = 50
) -> dict[str, Any]:
    """A page of a program's rules in id order; `cursor` is the last id of the previous page."""
    page = await program_records_page(
        RULES, program_id=program_id, enabled=enabled, cursor=cursor, limit=limit
    )
    await name_documents(program_id=program_id, documents=page["items"])
    return page
