"""The rules every program setting must satisfy, checked as a whole: each broken one is
reported at once under its dotted path (422 invalid_program_settings)."""

from __future__ import annotations

import zoneinfo
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum

from server.domain.errors import ValidationFailed
from server.domain.fraud.holds import FraudHoldScope
from server.domain.fraud.thresholds import threshold_errors
from server.domain.money import CURRENCY_EXPONENTS, MAX_AMOUNT, parse_amount
from server.domain.programs.settings import (
    MAX_LEVELS,
    MAX_RATE,
    MIN_LEVELS,
    RATE_DECIMALS,
    RATE_QUANTUM,
    SETTINGS_ERROR,
    BindMode,
    ConflictPolicy,
    PayoutMode,
    PayoutSchedule,
    ProgramKind,
    ProgramSettings,
    RecruitmentMode,
    WithdrawalMethod,
    WithdrawalRules,
)
from server.domain.sharing.rules import sharing_rule_errors

# Attribution and commission windows (0 = forever / no limit) and the freeze, in days.
MAX_WINDOW_DAYS = 3650
MAX_FREEZE_DAYS = 365
MAX_AUTO_COMPLETE_DAYS = 365
MAX_NAME_LENGTH = 128
MAX_DESCRIPTION_LENGTH = 4000
MAX_AGREEMENT_VERSION_LENGTH = 32
# Monthly payouts fall on a day every month has.
LAST_MONTHLY_PAYOUT_DAY = 28
MAX_TIME_ZONE_LENGTH = 64
# Names the zoneinfo database may hold that do not name one place's rules.
UNSTABLE_TIME_ZONES = frozenset({"localtime", "posixrules", "Factory"})


def _one_of(value: str, allowed: type[StrEnum]) -> str | None:
    choices = [member.value for member in allowed]
    return None if value in choices else "must be one of " + ", ".join(choices)


def _rate_error(value: Decimal, *, upper_inclusive: bool = True) -> str | None:
    if not value.is_finite():
        return "not a number"
    above = value > MAX_RATE if upper_inclusive else value >= MAX_RATE
    if value < 0 or above:
        return "must be between 0 and 100" if upper_inclusive else "must be at least 0, below 100"
    if value != value.quantize(RATE_QUANTUM, rounding=ROUND_DOWN):
        return f"at most {RATE_DECIMALS} decimals"
    return None


def time_zone_error(name: str) -> str | None:
    """Why `name` is not a usable IANA time zone, or None when it is."""
    if not name or len(name) > MAX_TIME_ZONE_LENGTH or name in UNSTABLE_TIME_ZONES:
        return "must be an IANA time zone name such as Asia/Shanghai"
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return "must be an IANA time zone name such as Asia/Shanghai"
    return None


def _check_amount(
    value: Decimal, currency_ok: bool, currency: str, name: str, errors: dict[str, str]
) -> bool:
    """Record a problem with a money setting; True when the amount is usable."""
    if currency_ok:
        try:
            parse_amount(value, currency, field=name)
        except ValidationFailed as exc:
            errors.update(exc.fields)
            return False
        return True
    if not value.is_finite() or value < 0 or value > MAX_AMOUNT:
        errors[name] = "out of range"
        return False
    return True


def _check_days(value: int, upper: int, name: str, errors: dict[str, str]) -> None:
    if not 0 <= value <= upper:
        errors[name] = f"must be between 0 and {upper}"


def program_settings_errors(settings: ProgramSettings) -> dict[str, str]:
    """Every broken rule, keyed by the dotted path of the setting it concerns."""
    errors: dict[str, str] = {}
    name = settings.name.strip()
    if not name:
        errors["name"] = "required"
    elif len(name) > MAX_NAME_LENGTH:
        errors["name"] = f"at most {MAX_NAME_LENGTH} characters"
    if len(settings.description) > MAX_DESCRIPTION_LENGTH:
        errors["description"] = f"at most {MAX_DESCRIPTION_LENGTH} characters"
    for key, value, allowed in (
        ("kind", settings.kind, ProgramKind),
        ("recruitment_mode", settings.recruitment_mode, RecruitmentMode),
        ("bind_mode", settings.bind_mode, BindMode),
        ("attribution_conflict_policy", settings.attribution_conflict_policy, ConflictPolicy),
        ("fraud_hold_scope", settings.fraud_hold_scope, FraudHoldScope),
    ):
        if problem := _one_of(value, allowed):
            errors[key] = problem
    if problem := time_zone_error(settings.time_zone):
        errors["time_zone"] = problem
    currency = settings.currency
    currency_ok = currency in CURRENCY_EXPONENTS
    if not currency_ok:
        errors["currency"] = "must be one of " + ", ".join(sorted(CURRENCY_EXPONENTS))

    requirements = settings.requirements
    version = requirements.agreement_version
    if version is not None and not version.strip():
        errors["requirements.agreement_version"] = "must not be blank (use null for none)"
    elif version is not None and len(version) > MAX_AGREEMENT_VERSION_LENGTH:
        errors["requirements.agreement_version"] = (
            f"at most {MAX_AGREEMENT_VERSION_LENGTH} characters"
        )

    _check_levels(settings, errors)

    _check_days(
        settings.attribution_window_days, MAX_WINDOW_DAYS, "attribution_window_days", errors
    )
    _check_days(settings.commission_window_days, MAX_WINDOW_DAYS, "commission_window_days", errors)
    _check_days(settings.freeze_days, MAX_FREEZE_DAYS, "freeze_days", errors)
    if settings.auto_complete_days is not None and not (
        1 <= settings.auto_complete_days <= MAX_AUTO_COMPLETE_DAYS
    ):
        errors["auto_complete_days"] = (
            f"must be between 1 and {MAX_AUTO_COMPLETE_DAYS} (null = off)"
        )
    _check_withdrawals(settings.withdrawal_rules, currency_ok, currency, errors)
    _check_payouts(settings.payout_schedule, currency_ok, currency, errors)

    auto = settings.auto_approve_rules
    if auto.max_line_amount is not None:
        key = "auto_approve_rules.max_line_amount"
        usable = _check_amount(auto.max_line_amount, currency_ok, currency, key, errors)
        if usable and auto.max_line_amount <= 0:
            errors[key] = "must be greater than 0 (null for any amount)"
    if not auto.require_no_open_anomaly:
        errors["auto_approve_rules.require_no_open_anomaly"] = (
            "must be true: commissions touched by an open anomaly are always held"
        )
    errors.update(threshold_errors(settings.fraud_thresholds, prefix="fraud_thresholds."))
    errors.update(sharing_rule_errors(settings.sharing_rules, prefix="sharing_rules."))
    return errors


def _check_levels(settings: ProgramSettings, errors: dict[str, str]) -> None:
    levels_ok = MIN_LEVELS <= settings.max_levels <= MAX_LEVELS
    if not levels_ok:
        errors["max_levels"] = f"must be between {MIN_LEVELS} and {MAX_LEVELS}"
    rates = settings.level_rates
    if levels_ok and len(rates) != settings.max_levels:
        errors["level_rates"] = f"must have exactly max_levels ({settings.max_levels}) entries"
    rates_ok = True
    for index, rate in enumerate(rates):
        if problem := _rate_error(rate):
            errors[f"level_rates.{index}"] = problem
            rates_ok = False
    # One order line never pays out more than its net: a promoter buying for themself gets
    # the rebate (level 0) while their upline still earns levels 1..n.
    level_total = sum(rates, Decimal(0)) if rates_ok else Decimal(0)
    if rates_ok and level_total > MAX_RATE:
        errors.setdefault("level_rates", "the level rates must add up to at most 100")
    if problem := _rate_error(settings.self_rebate_rate):
        errors["self_rebate_rate"] = problem
    elif (
        settings.self_rebate_enabled
        and rates_ok
        and settings.self_rebate_rate + level_total > MAX_RATE
    ):
        errors["self_rebate_rate"] = "rebate plus all level rates must add up to at most 100"


def _check_withdrawals(
    rules: WithdrawalRules, currency_ok: bool, currency: str, errors: dict[str, str]
) -> None:
    # Fees and tax stay below 100% and a fixed fee below the minimum: otherwise a (smallest)
    # withdrawal would pay nothing.
    prefix = "withdrawal_rules."
    minimum_ok = _check_amount(rules.minimum, currency_ok, currency, prefix + "minimum", errors)
    fee_ok = _check_amount(rules.fee_fixed, currency_ok, currency, prefix + "fee_fixed", errors)
    if problem := _rate_error(rules.fee_percent, upper_inclusive=False):
        errors[prefix + "fee_percent"] = problem
    if problem := _rate_error(rules.tax_withholding_percent, upper_inclusive=False):
        errors[prefix + "tax_withholding_percent"] = problem
    if minimum_ok and fee_ok and rules.fee_fixed > 0 and rules.minimum <= rules.fee_fixed:
        errors[prefix + "minimum"] = "must be greater than fee_fixed"
    if rules.daily_cap is not None:
        key = prefix + "daily_cap"
        if _check_amount(rules.daily_cap, currency_ok, currency, key, errors):
            if rules.daily_cap <= 0:
                errors[key] = "must be greater than 0 (null for no cap)"
            elif minimum_ok and rules.daily_cap < rules.minimum:
                errors[key] = "must be at least the minimum"
    allowed = {method.value for method in WithdrawalMethod}
    if not rules.methods:
        errors[prefix + "methods"] = "at least one method"
    elif not set(rules.methods) <= allowed:
        errors[prefix + "methods"] = "each must be one of " + ", ".join(sorted(allowed))
    elif len(set(rules.methods)) != len(rules.methods):
        errors[prefix + "methods"] = "no duplicates"


def _check_payouts(
    schedule: PayoutSchedule, currency_ok: bool, currency: str, errors: dict[str, str]
) -> None:
    if problem := _one_of(schedule.mode, PayoutMode):
        errors["payout_schedule.mode"] = problem
        return
    wants_day = schedule.mode == PayoutMode.MONTHLY
    wants_threshold = schedule.mode == PayoutMode.THRESHOLD
    if wants_day and schedule.day is None:
        errors["payout_schedule.day"] = "required for monthly payouts"
    elif wants_day and not 1 <= schedule.day <= LAST_MONTHLY_PAYOUT_DAY:  # type: ignore[operator]
        errors["payout_schedule.day"] = f"must be between 1 and {LAST_MONTHLY_PAYOUT_DAY}"
    elif not wants_day and schedule.day is not None:
        errors["payout_schedule.day"] = f"not used by {schedule.mode} payouts"
    key = "payout_schedule.threshold"
    if wants_threshold and schedule.threshold is None:
        errors[key] = "required for threshold payouts"
    elif wants_threshold and schedule.threshold is not None:
        usable = _check_amount(schedule.threshold, currency_ok, currency, key, errors)
        if usable and schedule.threshold <= 0:
            errors[key] = "must be greater than 0"
    elif schedule.threshold is not None:
        errors[key] = f"not used by {schedule.mode} payouts"


def validate_program_settings(settings: ProgramSettings) -> None:
    """Raise ValidationFailed(invalid_program_settings) naming every bad field."""
    errors = program_settings_errors(settings)
    if errors:
        raise ValidationFailed("invalid program settings", code=SETTINGS_ERROR, fields=errors)
