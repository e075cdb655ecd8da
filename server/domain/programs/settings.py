"""Program settings: the rules every setting must satisfy.

`ProgramSettings` holds every setting with Decimals for money and rates;
`validate_program_settings` checks it as a whole and reports every bad field at once. The
JSON document form (what the API accepts and the model stores) is in
server/domain/programs/document.py.

Bounds chosen here (each refused value names its field in the error):
- max_levels 1..10: a chain deeper than ten levels is a pyramid, not a distribution program.
- level rates and the self-purchase rebate are percents in [0, 100] with ≤ 4 decimals.
- one order line never pays out more than its net: the sum of the level rates is ≤ 100, and
  when the self-purchase rebate is enabled, rebate + sum of level rates is ≤ 100 (a promoter
  buying for themself gets level 0 while their upline chain still earns levels 1..n).
- attribution and commission windows 0..3650 days (0 = forever / no limit); freeze 0..365 days.
- withdrawals: fee_percent and tax_withholding_percent in [0, 100) (100% would pay nothing),
  with ≤ 4 decimals; a fixed fee must be
  below the minimum (otherwise the smallest withdrawal pays nothing); a daily cap, when set,
  is > 0 and ≥ the minimum; methods a non-empty subset of wechat, bank, offline.
- payout schedule: manual; monthly on a day 1..28 (every month has it); or threshold > 0.
- auto-approve rules (see AutoApproveRules).
- attribution_conflict_policy: `coupon_wins` or `binding_wins` (which promoter an order is
  attributed to when the buyer's link binding and the coupon typed at checkout disagree; see
  server/domain/sharing/attribution.py).
- time_zone: an IANA name (`Asia/Shanghai`, `America/New_York`) that the zoneinfo database
  knows; it places the program's day, week and month boundaries (server/domain/periods.py).
  The machine-dependent aliases `localtime`, `posixrules` and `Factory` are refused.
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum

from server.domain.errors import ValidationFailed
from server.domain.fraud.thresholds import FraudThresholds, threshold_errors
from server.domain.money import CURRENCY_EXPONENTS, MAX_AMOUNT, parse_amount
from server.domain.state_machine import StateMachine

MIN_LEVELS = 1
MAX_LEVELS = 10
MAX_RATE = Decimal(100)
RATE_DECIMALS = 4
RATE_QUANTUM = Decimal(1).scaleb(-RATE_DECIMALS)
MAX_WINDOW_DAYS = 3650
MAX_FREEZE_DAYS = 365
MAX_AUTO_COMPLETE_DAYS = 365
MAX_NAME_LENGTH = 128
MAX_DESCRIPTION_LENGTH = 4000
MAX_AGREEMENT_VERSION_LENGTH = 32
LAST_MONTHLY_PAYOUT_DAY = 28
SETTINGS_ERROR = "invalid_program_settings"
DEFAULT_TIME_ZONE = "Asia/Shanghai"
MAX_TIME_ZONE_LENGTH = 64
# Names the zoneinfo database may hold that do not name one place's rules.
UNSTABLE_TIME_ZONES = frozenset({"localtime", "posixrules", "Factory"})


class ProgramKind(StrEnum):
    EXTERNAL = "external"  # partners
    INTERNAL = "internal"  # the merchant's own teams as sub-accounts


class ProgramStatus(StrEnum):
    ACTIVE = "active"
    ARCHIVED = "archived"


class RecruitmentMode(StrEnum):
    OPEN = "open"  # applications are approved automatically
    REVIEW = "review"
    INVITE_ONLY = "invite_only"


class BindMode(StrEnum):
    FIRST_TOUCH = "first_touch"
    LAST_TOUCH = "last_touch"
    ON_REGISTER = "on_register"


class ConflictPolicy(StrEnum):
    """Who an order is attributed to when the link binding and the coupon code disagree."""

    COUPON_WINS = "coupon_wins"
    BINDING_WINS = "binding_wins"


class PayoutMode(StrEnum):
    MANUAL = "manual"
    MONTHLY = "monthly"
    THRESHOLD = "threshold"


class WithdrawalMethod(StrEnum):
    WECHAT = "wechat"
    BANK = "bank"
    OFFLINE = "offline"


PROGRAM_LIFECYCLE: StateMachine[ProgramStatus] = StateMachine(
    name="program",
    transitions={"archive": (frozenset({ProgramStatus.ACTIVE}), ProgramStatus.ARCHIVED)},
)


@dataclass(frozen=True, kw_only=True)
class ApplicationRequirements:
    """What an applicant must provide; a deposit of 0 means none."""

    real_name: bool = False
    phone: bool = False
    agreement_version: str | None = None
    deposit: Decimal = Decimal(0)


@dataclass(frozen=True, kw_only=True)
class WithdrawalRules:
    """fee = fee_fixed + fee_percent × amount; tax = tax_withholding_percent × amount;
    daily_cap None = no cap."""

    minimum: Decimal = Decimal(1)
    fee_percent: Decimal = Decimal(0)
    fee_fixed: Decimal = Decimal(0)
    daily_cap: Decimal | None = None
    methods: tuple[str, ...] = (WithdrawalMethod.WECHAT.value,)
    tax_withholding_percent: Decimal = Decimal(0)


@dataclass(frozen=True, kw_only=True)
class PayoutSchedule:
    """`day` is set only for monthly payouts, `threshold` only for threshold payouts."""

    mode: str = PayoutMode.MANUAL.value
    day: int | None = None
    threshold: Decimal | None = None


@dataclass(frozen=True, kw_only=True)
class AutoApproveRules:
    """When enabled, a pending commission whose freeze period is over is approved without
    staff, provided its amount is ≤ max_line_amount (None = any amount).

    require_no_open_anomaly is always true: DESIGN.md holds every commission touched by an
    open anomaly, and no program setting may override that. It is kept in the document so the
    rule is visible to whoever reads the settings.
    """

    enabled: bool = False
    max_line_amount: Decimal | None = None
    require_no_open_anomaly: bool = True


@dataclass(frozen=True, kw_only=True)
class ProgramSettings:
    """Every setting of a program (money in the program currency, rates in percent)."""

    name: str
    currency: str
    max_levels: int
    level_rates: tuple[Decimal, ...]
    description: str = ""
    kind: str = ProgramKind.EXTERNAL.value
    recruitment_mode: str = RecruitmentMode.REVIEW.value
    requirements: ApplicationRequirements = field(default_factory=ApplicationRequirements)
    self_rebate_enabled: bool = False
    self_rebate_rate: Decimal = Decimal(0)
    bind_mode: str = BindMode.FIRST_TOUCH.value
    attribution_window_days: int = 30
    commission_window_days: int = 0
    freeze_days: int = 7
    # Complete paid orders this many days after payment when the store never reports them
    # completed; None = off (only order.completed or staff complete an order).
    auto_complete_days: int | None = None
    withdrawal_rules: WithdrawalRules = field(default_factory=WithdrawalRules)
    payout_schedule: PayoutSchedule = field(default_factory=PayoutSchedule)
    auto_approve_rules: AutoApproveRules = field(default_factory=AutoApproveRules)
    attribution_conflict_policy: str = ConflictPolicy.COUPON_WINS.value
    time_zone: str = DEFAULT_TIME_ZONE
    # Fraud detectors' thresholds (server/domain/fraud/thresholds.py documents each one).
    fraud_thresholds: FraudThresholds = field(default_factory=FraudThresholds)


# ---------------------------------------------------------------- validation


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
    _check_amount(requirements.deposit, currency_ok, currency, "requirements.deposit", errors)

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


_HOSTNAME_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def normalize_hostname(raw: str) -> str:
    """A site's domain in the form it is stored and compared: lower-case ASCII (IDNs as
    punycode), no trailing dot; at least two labels and a non-numeric top-level label."""
    candidate = raw.strip().rstrip(".").lower()
    try:
        ascii_form = candidate.encode("idna").decode("ascii")
    except UnicodeError:
        ascii_form = ""
    labels = ascii_form.split(".")
    valid = (
        0 < len(ascii_form) <= 253
        and len(labels) >= 2
        and all(_HOSTNAME_LABEL.fullmatch(label) for label in labels)
        and not labels[-1].isdigit()
    )
    if not valid:
        raise ValidationFailed(
            "not a valid hostname",
            code="invalid_domain",
            fields={"domain": "must be a hostname such as shop.example.com"},
        )
    return ascii_form


MAX_SITE_NAME_LENGTH = 128
MAX_MARKET_LENGTH = 32


def site_label_errors(*, name: str | None, market: str | None) -> dict[str, str]:
    """Length problems of a site's name and market (None = not being set)."""
    errors: dict[str, str] = {}
    if name is not None and len(name) > MAX_SITE_NAME_LENGTH:
        errors["name"] = f"at most {MAX_SITE_NAME_LENGTH} characters"
    if market is not None and len(market) > MAX_MARKET_LENGTH:
        errors["market"] = f"at most {MAX_MARKET_LENGTH} characters"
    return errors
