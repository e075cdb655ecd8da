"""Commission rules and period caps: what a rule is, when it applies, and which one wins.

Pure: evaluated against the facts passed in (`RuleFacts`), never a clock or a database.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum

from server.domain.errors import ValidationFailed
from server.domain.money import CURRENCY_EXPONENTS, MAX_AMOUNT, exponent, round_down
from server.domain.periods import period_bounds, period_key
from server.domain.programs.settings import MAX_LEVELS, MAX_RATE, RATE_DECIMALS, RATE_QUANTUM

RULE_ERROR = "invalid_commission_rule"
PERIOD_CAP_ERROR = "invalid_period_cap"
MAX_SCOPE_LENGTH = 64

# Weights of the scope fields; powers of two so that a sum ranks by the heaviest field set.
SCOPE_WEIGHTS: dict[str, int] = {
    "promoter_id": 32,
    "product_id": 16,
    "category": 8,
    "campaign": 4,
    "site_id": 2,
    "tier": 1,
}


class RuleKind(StrEnum):
    PERCENT = "percent"  # value is a percent of the line's net
    FIXED = "fixed"  # value is an amount per unit, pro rata to the line's net


class CapPeriod(StrEnum):
    DAY = "day"
    MONTH = "month"


@dataclass(frozen=True, kw_only=True)
class CommissionRule:
    """One override of the program's rates for the lines and beneficiaries in its scope.

    `value` is a percent or, for fixed rules, an amount per unit; validity is [from, to).
    """

    id: int
    program_id: int
    kind: str
    value: Decimal
    level: int | None = None
    product_id: str | None = None
    category: str | None = None
    campaign: str | None = None
    site_id: int | None = None
    tier: str | None = None
    promoter_id: int | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    cap_per_line: Decimal | None = None
    priority: int = 0
    enabled: bool = True

    def scope(self) -> dict[str, str | int]:
        """The scope fields this rule sets (field name → required value)."""
        return {name: value for name in SCOPE_WEIGHTS if (value := getattr(self, name)) is not None}

    def is_valid_at(self, at: datetime) -> bool:
        """Inside [valid_from, valid_to) at `at`."""
        if self.valid_from is not None and at < self.valid_from:
            return False
        return self.valid_to is None or at < self.valid_to


@dataclass(frozen=True, kw_only=True)
class RuleFacts:
    """What a rule is matched against: one order line, one level, one beneficiary."""

    program_id: int
    placed_at: datetime
    level: int
    product_id: str
    category: str | None
    campaign: str | None
    site_id: int | None
    promoter_id: int
    tier: str | None


@dataclass(frozen=True, kw_only=True)
class PeriodCap:
    """At most `amount` earned per day or month by each promoter, tier or program it covers."""

    id: int
    program_id: int
    period: str
    amount: Decimal
    promoter_id: int | None = None
    tier: str | None = None
    enabled: bool = True


@dataclass(frozen=True, kw_only=True)
class PeriodWindow:
    """One calendar period in the program's time zone: [start, end), named by `key`."""

    period: str
    key: str
    start: datetime
    end: datetime


# ---------------------------------------------------------------- matching and selection


def rule_applies(rule: CommissionRule, facts: RuleFacts) -> bool:
    """True when `rule` is enabled, in force at the order time and its scope fits `facts`."""
    if not rule.enabled or rule.program_id != facts.program_id:
        return False
    if rule.level is not None and rule.level != facts.level:
        return False
    if not rule.is_valid_at(facts.placed_at):
        return False
    return all(getattr(facts, name) == wanted for name, wanted in rule.scope().items())


def rule_rank(rule: CommissionRule) -> tuple[int, int, int, int, int]:
    """Sort key of an applicable rule: the greatest wins (docs/design/commissions.md)."""
    scope = rule.scope()
    weight = sum(SCOPE_WEIGHTS[name] for name in scope)
    return (len(scope), weight, int(rule.level is not None), rule.priority, -rule.id)


def select_rule(rules: Iterable[CommissionRule], facts: RuleFacts) -> CommissionRule | None:
    """The winning rule for `facts`, or None when the program's default rate applies."""
    applicable = [rule for rule in rules if rule_applies(rule, facts)]
    return max(applicable, key=rule_rank) if applicable else None


def period_window(period: str, at: datetime, tz: tzinfo) -> PeriodWindow:
    """The day or month containing `at`, cut at local midnight in `tz`, bounds in UTC."""
    if period in (CapPeriod.DAY, CapPeriod.MONTH):
        start, end = period_bounds(at, period, tz)
        return PeriodWindow(period=period, key=period_key(at, period, tz), start=start, end=end)
    raise ValidationFailed(
        f"unknown cap period {period!r}",
        code=PERIOD_CAP_ERROR,
        fields={"period": "must be one of day, month"},
    )


def _cap_covers(cap: PeriodCap, program_id: int, promoter_id: int, tier: str | None) -> bool:
    return (
        cap.enabled
        and cap.program_id == program_id
        and (cap.promoter_id is None or cap.promoter_id == promoter_id)
        and (cap.tier is None or cap.tier == tier)
    )


def select_period_caps(
    caps: Iterable[PeriodCap], *, program_id: int, promoter_id: int, tier: str | None
) -> list[PeriodCap]:
    """The caps that bind one promoter: at most one per period kind, most specific."""

    def rank(cap: PeriodCap) -> tuple[int, int, Decimal, int]:
        return (
            -int(cap.promoter_id is not None),
            -int(cap.tier is not None),
            cap.amount,
            cap.id,
        )

    covering = [cap for cap in caps if _cap_covers(cap, program_id, promoter_id, tier)]
    chosen: list[PeriodCap] = []
    for period in CapPeriod:
        of_kind = [cap for cap in covering if cap.period == period]
        if of_kind:
            chosen.append(min(of_kind, key=rank))
    return chosen


# ---------------------------------------------------------------- validation


def percent_error(value: Decimal) -> str | None:
    """Why `value` is no usable percent (0..100, four decimals), or None."""
    if not value.is_finite():
        return "not a number"
    if value < 0 or value > MAX_RATE:
        return "must be a percent between 0 and 100"
    if value != value.quantize(RATE_QUANTUM, rounding=ROUND_DOWN):
        return f"at most {RATE_DECIMALS} decimals"
    return None


def amount_error(value: Decimal, currency: str, *, positive: bool = False) -> str | None:
    """Why `value` is no storable amount in `currency` (≥ 0, > 0 if `positive`), or None."""
    if not value.is_finite() or value < 0 or value > MAX_AMOUNT:
        return "out of range"
    if positive and value == 0:
        return "must be greater than 0"
    if value != round_down(value, currency):
        return f"at most {exponent(currency)} decimals for {currency}"
    return None


def _text_error(value: str | None) -> str | None:
    if value is None:
        return None
    if not value.strip():
        return "must not be blank (use null for any)"
    return f"at most {MAX_SCOPE_LENGTH} characters" if len(value) > MAX_SCOPE_LENGTH else None


def _aware(value: datetime | None) -> bool:
    return value is None or value.utcoffset() is not None


def commission_rule_errors(rule: CommissionRule, *, currency: str) -> dict[str, str]:
    """Every broken constraint of `rule`, keyed by field; empty when usable."""
    if currency not in CURRENCY_EXPONENTS:
        return {"currency": "unknown currency"}
    errors: dict[str, str] = {}
    if rule.kind == RuleKind.PERCENT:
        problem = percent_error(rule.value)
    elif rule.kind == RuleKind.FIXED:
        problem = amount_error(rule.value, currency)
    else:
        errors["kind"] = "must be one of percent, fixed"
        problem = None
    if problem:
        errors["value"] = problem
    if rule.level is not None and not 0 <= rule.level <= MAX_LEVELS:
        errors["level"] = f"must be between 0 and {MAX_LEVELS} (null for every level)"
    for name in ("product_id", "category", "campaign", "tier"):
        if problem := _text_error(getattr(rule, name)):
            errors[name] = problem
    if rule.cap_per_line is not None and (
        problem := amount_error(rule.cap_per_line, currency, positive=True)
    ):
        errors["cap_per_line"] = problem
    if not _aware(rule.valid_from):
        errors["valid_from"] = "must carry a time zone"
    if not _aware(rule.valid_to):
        errors["valid_to"] = "must carry a time zone"
    if (
        "valid_from" not in errors
        and "valid_to" not in errors
        and rule.valid_from is not None
        and rule.valid_to is not None
        and rule.valid_from >= rule.valid_to
    ):
        errors["valid_to"] = "must be after valid_from"
    return errors


def validate_commission_rule(rule: CommissionRule, *, currency: str) -> CommissionRule:
    """`rule` itself, or ValidationFailed `invalid_commission_rule` naming every bad field."""
    if errors := commission_rule_errors(rule, currency=currency):
        raise ValidationFailed("invalid commission rule", code=RULE_ERROR, fields=errors)
    return rule


def validate_period_cap(cap: PeriodCap, *, currency: str) -> PeriodCap:
    """`cap` itself, or ValidationFailed `invalid_period_cap` naming every bad field."""
    errors: dict[str, str] = {}
    if cap.period not in {period.value for period in CapPeriod}:
        errors["period"] = "must be one of day, month"
    if currency not in CURRENCY_EXPONENTS:
        errors["currency"] = "unknown currency"
    elif problem := amount_error(cap.amount, currency, positive=True):
        errors["amount"] = problem
    if problem := _text_error(cap.tier):
        errors["tier"] = problem
    if errors:
        raise ValidationFailed("invalid period cap", code=PERIOD_CAP_ERROR, fields=errors)
    return cap
