"""Commission rules as stored, staff-managed configuration, and their loading for the engine.

Staff create, edit, disable and re-enable rules; every write is audited in its transaction
with the rule's document before and after. Rules stay editable: a commission keeps its own
snapshot of the rule that applied (kind, rate or fixed amount, cap, rule id, explanation),
so an edit or a disabled rule never changes a commission already made, and the audit log
tells what a rule said at any time. Archived programs are read-only (409 program_archived).

Checks on save, every broken one reported at once (422 `invalid_commission_rule`): the
domain's (server/domain/commissions/rules.py: percent 0..100, fixed ≥ 0 in the program
currency's precision, levels, scope texts ≤ 64, valid_from < valid_to), plus scope
references: `site_id` a site of the program, `promoter_id` a promoter of the program. Then
the whole enabled rule set must never pay more than an order line's net in percent
commissions (422 `rule_set_overpays`, server/domain/commissions/rule_guard.py). Writes to one
program's rules are serialized by locking the program row, so two saves cannot each pass
that check alone and fail it together.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

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
from server.domain.errors import Conflict, NotFound, ValidationFailed
from server.domain.pagination import check_page_limit, next_cursor
from server.domain.programs.document import amount_text, rate_text
from server.domain.programs.levels import over_cap_error, rule_level_over_cap
from server.domain.programs.settings import ProgramStatus
from server.models import CommissionRuleRecord, PeriodCapRecord, Program, Promoter, Site
from server.services.access.audit import record_action
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
    return {
        "id": record.id,
        "program_id": record.program_id,  # type: ignore[attr-defined]
        "currency": currency,
        **rule_document(record, currency=currency),
        "created_at": record.created_at,
        "updated_at": record.updated_at,
    }


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
    program = await Program.filter(id=program_id).using_db(conn).select_for_update().first()
    if program is None:
        raise NotFound("no such program", code="program_not_found")
    if program.status == ProgramStatus.ARCHIVED:
        raise Conflict("an archived program cannot be changed", code="program_archived")
    return program


async def _checked_rule(
    document: Mapping[str, Any], *, rule_id: int, program: Program, conn: BaseDBAsyncClient
) -> CommissionRule:
    rule, errors = rule_from_document(
        document, rule_id=rule_id, program_id=program.id, currency=program.currency
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
    if not saved.enabled:
        return
    others = [
        rule for rule in await load_rules(program_id=program.id, conn=conn) if rule.id != saved.id
    ]
    terms = ProgramTerms.from_settings(
        program.id, settings_of(program), level_cap=commission_level_cap()
    )
    ensure_rule_set_never_overpays([*others, saved], terms=terms)


def _store(record: CommissionRuleRecord, rule: CommissionRule, name: str) -> None:
    record.name = name
    for field in _STORED_FIELDS:
        setattr(record, field, getattr(rule, field))


# ---------------------------------------------------------------- use cases


async def create_rule(
    *,
    program_id: int,
    document: Mapping[str, Any],
    actor: Principal,
    request_id: str | None = None,
) -> tuple[CommissionRuleRecord, str]:
    """Add a rule to a program (checked, audited); returns the rule and the program currency."""
    async with in_transaction() as conn:
        program = await locked_writable_program(program_id, conn)
        # Id 0 stands for "the rule being created" until the row exists (ids start at 1).
        rule = await _checked_rule(document, rule_id=0, program=program, conn=conn)
        record = CommissionRuleRecord(program_id=program.id)
        _store(record, rule, document.get("name") or "")
        await record.save(using_db=conn)
        await _ensure_set_is_safe(program, replace(rule, id=record.id), conn)
        await record_action(
            actor=actor,
            action="commission_rule.create",
            target_kind="commission_rule",
            target_id=record.id,
            program_id=program.id,
            details={"after": rule_document(record, currency=program.currency)},
            request_id=request_id,
            using_db=conn,
        )
    return record, program.currency


async def _rule_program_id(rule_id: int) -> int:
    # Read before the transaction: on MariaDB a plain read inside it would fix the snapshot
    # before the program lock is held, hiding rules saved by whoever held the lock.
    program_id = (
        await CommissionRuleRecord.filter(id=rule_id).first().values_list("program_id", flat=True)
    )
    if program_id is None:
        raise NotFound("no such commission rule", code="commission_rule_not_found")
    return int(program_id)  # type: ignore[call-overload]


async def _locked_rule(
    rule_id: int, program_id: int, conn: BaseDBAsyncClient
) -> tuple[CommissionRuleRecord, Program]:
    program = await locked_writable_program(program_id, conn)
    record = (
        await CommissionRuleRecord.filter(id=rule_id).using_db(conn).select_for_update().first()
    )
    if record is None:
        raise NotFound("no such commission rule", code="commission_rule_not_found")
    return record, program


async def update_rule(
    *,
    rule_id: int,
    changes: Mapping[str, Any],
    actor: Principal,
    request_id: str | None = None,
) -> tuple[CommissionRuleRecord, str]:
    """Change some fields of a rule (null clears an optional one); checked as a whole, audited."""
    program_id = await _rule_program_id(rule_id)
    async with in_transaction() as conn:
        record, program = await _locked_rule(rule_id, program_id, conn)
        before = rule_document(record, currency=program.currency)
        merged = {**_typed_document(record), **changes}
        rule = await _checked_rule(merged, rule_id=record.id, program=program, conn=conn)
        _store(record, rule, merged.get("name") or "")
        after = rule_document(record, currency=program.currency)
        if after == before:
            return record, program.currency
        await record.save(using_db=conn)
        await _ensure_set_is_safe(program, rule, conn)
        await record_action(
            actor=actor,
            action="commission_rule.update",
            target_kind="commission_rule",
            target_id=record.id,
            program_id=program.id,
            details={"before": before, "after": after},
            request_id=request_id,
            using_db=conn,
        )
    return record, program.currency


def _typed_document(record: CommissionRuleRecord) -> dict[str, Any]:
    """The stored rule as parsed values (what a patch is merged into)."""
    rule = to_domain_rule(record)
    return {"name": record.name, **{field: getattr(rule, field) for field in _STORED_FIELDS}}


async def set_rule_enabled(
    *, rule_id: int, enabled: bool, actor: Principal, request_id: str | None = None
) -> tuple[CommissionRuleRecord, str]:
    """Disable a rule (new orders stop using it) or enable it again (checked); audited."""
    program_id = await _rule_program_id(rule_id)
    async with in_transaction() as conn:
        record, program = await _locked_rule(rule_id, program_id, conn)
        if record.enabled == enabled:
            return record, program.currency
        record.enabled = enabled
        if enabled:
            await _ensure_set_is_safe(program, to_domain_rule(record), conn)
        await record.save(using_db=conn, update_fields=["enabled", "updated_at"])
        await record_action(
            actor=actor,
            action="commission_rule.enable" if enabled else "commission_rule.disable",
            target_kind="commission_rule",
            target_id=record.id,
            program_id=program.id,
            details={"changes": {"enabled": {"before": not enabled, "after": enabled}}},
            request_id=request_id,
            using_db=conn,
        )
    return record, program.currency


async def get_rule(*, rule_id: int) -> tuple[CommissionRuleRecord, str]:
    """One rule and its program's currency, else 404 commission_rule_not_found."""
    record = await CommissionRuleRecord.filter(id=rule_id).select_related("program").first()
    if record is None:
        raise NotFound("no such commission rule", code="commission_rule_not_found")
    return record, record.program.currency


async def program_records_page(
    model: type[CommissionRuleRecord] | type[PeriodCapRecord],
    serialize: Callable[..., dict[str, Any]],
    *,
    program_id: int,
    enabled: bool | None,
    cursor: int | None,
    limit: int,
) -> dict[str, Any]:
    """A page of a program's rules or caps in id order; `cursor` is the previous page's last id."""
    check_page_limit(limit)
    program = await Program.get_or_none(id=program_id)
    if program is None:
        raise NotFound("no such program", code="program_not_found")
    query = model.filter(program_id=program_id)
    if enabled is not None:
        query = query.filter(enabled=enabled)
    if cursor is not None:
        query = query.filter(id__gt=cursor)
    records = await query.order_by("id").limit(limit)
    return {
        "items": [serialize(r, currency=program.currency) for r in records],
        "next_cursor": next_cursor([row.id for row in records], limit),
    }


async def list_rules(
    *, program_id: int, enabled: bool | None = None, cursor: int | None = None, limit: int = 50
) -> dict[str, Any]:
    """A page of a program's rules in id order; `cursor` is the last id of the previous page."""
    return await program_records_page(
        CommissionRuleRecord,
        serialize_rule,
        program_id=program_id,
        enabled=enabled,
        cursor=cursor,
        limit=limit,
    )
