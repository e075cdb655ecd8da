"""The JSON document form of program settings: what the admin API accepts, what the Program
columns store, and what the audit log records (merge rules in docs/design/programs.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from server.domain.errors import ValidationFailed
from server.domain.fraud.thresholds import THRESHOLD_KEYS, FraudThresholds
from server.domain.money import CURRENCY_EXPONENTS, read_decimal, round_down
from server.domain.programs.settings import (
    SETTINGS_ERROR,
    ApplicationRequirements,
    AutoApproveRules,
    PayoutSchedule,
    ProgramSettings,
    WithdrawalRules,
    default_methods,
)
from server.domain.programs.settings_checks import program_settings_errors
from server.domain.sharing.rules import QUOTA_KEYS, SHARING_RULE_KEYS, SharingRules

REQUIRED_ON_CREATE = ("name", "currency", "max_levels", "level_rates")
MERGED_ON_PATCH = frozenset(
    {"requirements", "withdrawal_rules", "auto_approve_rules", "fraud_thresholds", "sharing_rules"}
)
NESTED_KEYS: dict[str, tuple[str, ...]] = {
    "requirements": ("real_name", "phone", "agreement_version"),
    "withdrawal_rules": (
        "minimum",
        "fee_percent",
        "fee_fixed",
        "daily_cap",
        "methods",
        "tax_withholding_percent",
        "require_tax_profile",
    ),
    "payout_schedule": ("mode", "day", "threshold"),
    "auto_approve_rules": ("enabled", "max_line_amount", "require_no_open_anomaly"),
    "fraud_thresholds": THRESHOLD_KEYS,
    "sharing_rules": SHARING_RULE_KEYS,
}
SCALAR_KEYS = (
    "name",
    "description",
    "kind",
    "currency",
    "recruitment_mode",
    "max_levels",
    "level_rates",
    "self_rebate_enabled",
    "self_rebate_rate",
    "bind_mode",
    "attribution_window_days",
    "commission_window_days",
    "freeze_days",
    "auto_complete_days",
    "attribution_conflict_policy",
    "time_zone",
    "fraud_hold_scope",
    "leaderboard_enabled",
)
SETTING_KEYS = frozenset(SCALAR_KEYS) | frozenset(NESTED_KEYS)


def rate_text(rate: Decimal) -> str:
    """A percent in canonical text: '10', '2.5', '0'."""
    if rate == 0:
        return "0"
    return format(rate.normalize(), "f")


def amount_text(amount: Decimal, currency: str) -> str:
    """An amount with exactly the currency's minor-unit digits: '1.00' (CNY), '100' (JPY)."""
    if currency not in CURRENCY_EXPONENTS:
        return format(amount, "f")
    quantum = Decimal(1).scaleb(-CURRENCY_EXPONENTS[currency])
    return str(round_down(amount, currency).quantize(quantum))


def default_document(currency: object = None) -> dict[str, Any]:
    """Every optional setting at its default (the keys in REQUIRED_ON_CREATE are absent);
    withdrawals default to WeChat in CNY programs, offline in others."""
    defaults = ProgramSettings(name="", currency="", max_levels=0, level_rates=())
    document = _document(defaults, currency=None)
    document["withdrawal_rules"]["methods"] = list(
        default_methods(currency if isinstance(currency, str) else None)
    )
    for key in REQUIRED_ON_CREATE:
        del document[key]
    return document


def apply_settings_patch(current: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """`current` with `patch` applied (merge rules in docs/design/programs.md)."""
    merged = dict(current)
    for key, value in patch.items():
        base = current.get(key)
        if key in MERGED_ON_PATCH and isinstance(value, Mapping) and isinstance(base, Mapping):
            merged[key] = {**base, **value}
        else:
            merged[key] = value
    return merged


def changed_settings(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """{key: {"before": …, "after": …}} for each top-level setting that differs."""
    return {
        key: {"before": before.get(key), "after": after.get(key)}
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    }


def settings_to_document(settings: ProgramSettings) -> dict[str, Any]:
    """The canonical document of valid settings."""
    return _document(settings, currency=settings.currency)


def _document(settings: ProgramSettings, *, currency: str | None) -> dict[str, Any]:
    def money(value: Decimal | None) -> str | None:
        if value is None:
            return None
        return amount_text(value, currency) if currency else format(value, "f")

    requirements = settings.requirements
    withdrawals = settings.withdrawal_rules
    schedule: dict[str, Any] = {"mode": settings.payout_schedule.mode}
    if settings.payout_schedule.day is not None:
        schedule["day"] = settings.payout_schedule.day
    if settings.payout_schedule.threshold is not None:
        schedule["threshold"] = money(settings.payout_schedule.threshold)
    auto = settings.auto_approve_rules
    return {
        "name": settings.name.strip(),
        "description": settings.description,
        "kind": settings.kind,
        "currency": settings.currency,
        "recruitment_mode": settings.recruitment_mode,
        "requirements": {
            "real_name": requirements.real_name,
            "phone": requirements.phone,
            "agreement_version": requirements.agreement_version,
        },
        "max_levels": settings.max_levels,
        "level_rates": [rate_text(rate) for rate in settings.level_rates],
        "self_rebate_enabled": settings.self_rebate_enabled,
        "self_rebate_rate": rate_text(settings.self_rebate_rate),
        "bind_mode": settings.bind_mode,
        "attribution_window_days": settings.attribution_window_days,
        "commission_window_days": settings.commission_window_days,
        "freeze_days": settings.freeze_days,
        "auto_complete_days": settings.auto_complete_days,
        "withdrawal_rules": {
            "minimum": money(withdrawals.minimum),
            "fee_percent": rate_text(withdrawals.fee_percent),
            "fee_fixed": money(withdrawals.fee_fixed),
            "daily_cap": money(withdrawals.daily_cap),
            "methods": list(withdrawals.methods),
            "tax_withholding_percent": rate_text(withdrawals.tax_withholding_percent),
            "require_tax_profile": withdrawals.require_tax_profile,
        },
        "payout_schedule": schedule,
        "auto_approve_rules": {
            "enabled": auto.enabled,
            "max_line_amount": money(auto.max_line_amount),
            "require_no_open_anomaly": auto.require_no_open_anomaly,
        },
        "attribution_conflict_policy": settings.attribution_conflict_policy,
        "time_zone": settings.time_zone,
        "fraud_thresholds": {
            key: getattr(settings.fraud_thresholds, key) for key in THRESHOLD_KEYS
        },
        "fraud_hold_scope": settings.fraud_hold_scope,
        "sharing_rules": {key: getattr(settings.sharing_rules, key) for key in SHARING_RULE_KEYS},
        "leaderboard_enabled": settings.leaderboard_enabled,
    }


# An unreadable value becomes a neutral one (0, "", False, empty) so the rule checks still
# run on everything else; the type error then wins over a rule at the same path.
class _Reader:
    """Reads typed values out of a document, recording (not raising) every type error."""

    def __init__(self) -> None:
        self.errors: dict[str, str] = {}

    def _missing(self, source: Mapping[str, Any], key: str, path: str) -> bool:
        if key not in source:
            self.errors[path] = "required"
            return True
        return False

    def text(self, source: Mapping[str, Any], key: str, path: str) -> str:
        if self._missing(source, key, path):
            return ""
        value = source[key]
        if value is None:
            self.errors[path] = "required"
            return ""
        if not isinstance(value, str):
            self.errors[path] = "must be a string"
            return ""
        return value

    def optional_text(self, source: Mapping[str, Any], key: str, path: str) -> str | None:
        if self._missing(source, key, path) or source[key] is None:
            return None
        return self.text(source, key, path)

    def flag(self, source: Mapping[str, Any], key: str, path: str) -> bool:
        if self._missing(source, key, path):
            return False
        value = source[key]
        if not isinstance(value, bool):
            self.errors[path] = "must be true or false"
            return False
        return value

    def whole(self, source: Mapping[str, Any], key: str, path: str) -> int:
        if self._missing(source, key, path):
            return 0
        value = source[key]
        if isinstance(value, bool) or not isinstance(value, int):
            self.errors[path] = "must be an integer"
            return 0
        return value

    def optional_whole(self, source: Mapping[str, Any], key: str, path: str) -> int | None:
        if key not in source or source[key] is None:
            return None
        return self.whole(source, key, path)

    def decimal(self, value: Any, path: str) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
            self.errors[path] = 'must be a decimal string such as "10.50"'
            return Decimal(0)
        parsed = read_decimal(value)
        if parsed is None:
            self.errors[path] = "not a number"
            return Decimal(0)
        return parsed

    def number(self, source: Mapping[str, Any], key: str, path: str) -> Decimal:
        if self._missing(source, key, path):
            return Decimal(0)
        return self.decimal(source[key], path)

    def optional_number(self, source: Mapping[str, Any], key: str, path: str) -> Decimal | None:
        if key not in source or source[key] is None:
            return None
        return self.decimal(source[key], path)

    def section(self, source: Mapping[str, Any], key: str) -> Mapping[str, Any]:
        if self._missing(source, key, key):
            return {}
        value = source[key]
        if not isinstance(value, Mapping):
            self.errors[key] = "must be an object"
            return {}
        for unknown in sorted(set(value) - set(NESTED_KEYS[key])):
            self.errors[f"{key}.{unknown}"] = "unknown setting"
        return value

    def texts(self, source: Mapping[str, Any], key: str, path: str) -> tuple[str, ...]:
        value = source.get(key)
        if self._missing(source, key, path):
            return ()
        if not _is_list(value) or not all(isinstance(item, str) for item in value):
            self.errors[path] = "must be a list of strings"
            return ()
        return tuple(value)

    def numbers(self, source: Mapping[str, Any], key: str, path: str) -> tuple[Decimal, ...]:
        if self._missing(source, key, path):
            return ()
        value = source[key]
        if not _is_list(value):
            self.errors[path] = "must be a list of decimal strings"
            return ()
        return tuple(self.decimal(item, f"{path}.{index}") for index, item in enumerate(value))


def _is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


def settings_from_document(document: Mapping[str, Any]) -> ProgramSettings:
    """Read and validate a whole document; 422 invalid_program_settings names every bad field."""
    read = _Reader()
    for unknown in sorted(set(document) - SETTING_KEYS):
        read.errors[unknown] = "unknown setting"
    requirements = read.section(document, "requirements")
    withdrawals = read.section(document, "withdrawal_rules")
    schedule = read.section(document, "payout_schedule")
    auto = read.section(document, "auto_approve_rules")
    fraud = read.section(document, "fraud_thresholds")
    sharing = read.section(document, "sharing_rules")
    settings = ProgramSettings(
        name=read.text(document, "name", "name"),
        description=read.text(document, "description", "description"),
        kind=read.text(document, "kind", "kind"),
        currency=read.text(document, "currency", "currency"),
        recruitment_mode=read.text(document, "recruitment_mode", "recruitment_mode"),
        requirements=ApplicationRequirements(
            real_name=read.flag(requirements, "real_name", "requirements.real_name"),
            phone=read.flag(requirements, "phone", "requirements.phone"),
            agreement_version=read.optional_text(
                requirements, "agreement_version", "requirements.agreement_version"
            ),
        ),
        max_levels=read.whole(document, "max_levels", "max_levels"),
        level_rates=read.numbers(document, "level_rates", "level_rates"),
        self_rebate_enabled=read.flag(document, "self_rebate_enabled", "self_rebate_enabled"),
        self_rebate_rate=read.number(document, "self_rebate_rate", "self_rebate_rate"),
        bind_mode=read.text(document, "bind_mode", "bind_mode"),
        attribution_window_days=read.whole(
            document, "attribution_window_days", "attribution_window_days"
        ),
        commission_window_days=read.whole(
            document, "commission_window_days", "commission_window_days"
        ),
        freeze_days=read.whole(document, "freeze_days", "freeze_days"),
        auto_complete_days=read.optional_whole(
            document, "auto_complete_days", "auto_complete_days"
        ),
        withdrawal_rules=WithdrawalRules(
            minimum=read.number(withdrawals, "minimum", "withdrawal_rules.minimum"),
            fee_percent=read.number(withdrawals, "fee_percent", "withdrawal_rules.fee_percent"),
            fee_fixed=read.number(withdrawals, "fee_fixed", "withdrawal_rules.fee_fixed"),
            daily_cap=read.optional_number(withdrawals, "daily_cap", "withdrawal_rules.daily_cap"),
            methods=read.texts(withdrawals, "methods", "withdrawal_rules.methods"),
            tax_withholding_percent=read.number(
                withdrawals, "tax_withholding_percent", "withdrawal_rules.tax_withholding_percent"
            ),
            require_tax_profile=read.flag(
                withdrawals, "require_tax_profile", "withdrawal_rules.require_tax_profile"
            ),
        ),
        payout_schedule=PayoutSchedule(
            mode=read.text(schedule, "mode", "payout_schedule.mode"),
            day=read.optional_whole(schedule, "day", "payout_schedule.day"),
            threshold=read.optional_number(schedule, "threshold", "payout_schedule.threshold"),
        ),
        auto_approve_rules=AutoApproveRules(
            enabled=read.flag(auto, "enabled", "auto_approve_rules.enabled"),
            max_line_amount=read.optional_number(
                auto, "max_line_amount", "auto_approve_rules.max_line_amount"
            ),
            require_no_open_anomaly=read.flag(
                auto, "require_no_open_anomaly", "auto_approve_rules.require_no_open_anomaly"
            ),
        ),
        attribution_conflict_policy=read.text(
            document, "attribution_conflict_policy", "attribution_conflict_policy"
        ),
        time_zone=read.text(document, "time_zone", "time_zone"),
        fraud_thresholds=FraudThresholds(
            **{key: read.whole(fraud, key, f"fraud_thresholds.{key}") for key in THRESHOLD_KEYS}
        ),
        fraud_hold_scope=read.text(document, "fraud_hold_scope", "fraud_hold_scope"),
        sharing_rules=SharingRules(
            custom_codes=read.text(sharing, "custom_codes", "sharing_rules.custom_codes"),
            **{key: read.whole(sharing, key, f"sharing_rules.{key}") for key in QUOTA_KEYS},
        ),
        leaderboard_enabled=read.flag(document, "leaderboard_enabled", "leaderboard_enabled"),
    )
    errors = {**program_settings_errors(settings), **read.errors}
    if errors:
        raise ValidationFailed("invalid program settings", code=SETTINGS_ERROR, fields=errors)
    return settings
