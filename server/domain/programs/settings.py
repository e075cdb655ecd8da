"""Program settings: every setting of a program as typed values (Decimals for money and
rates), with their enums; the checks are in settings_checks.py, the JSON form in document.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from server.domain.fraud.holds import DEFAULT_FRAUD_HOLD_SCOPE
from server.domain.fraud.thresholds import FraudThresholds
from server.domain.sharing.rules import SharingRules
from server.domain.state_machine import StateMachine

MIN_LEVELS = 1
# A chain deeper than ten levels is a pyramid, not a distribution program.
MAX_LEVELS = 10
MAX_RATE = Decimal(100)
RATE_DECIMALS = 4
RATE_QUANTUM = Decimal(1).scaleb(-RATE_DECIMALS)
SETTINGS_ERROR = "invalid_program_settings"
DEFAULT_TIME_ZONE = "Asia/Shanghai"


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


# WeChat Pay transfers to a user's change (零钱) are made in renminbi only.
WECHAT_CURRENCY = "CNY"


def default_methods(currency: str | None) -> tuple[str, ...]:
    """How a program pays when its settings name no method: WeChat in CNY, else offline."""
    if currency in (None, WECHAT_CURRENCY):
        return (WithdrawalMethod.WECHAT.value,)
    return (WithdrawalMethod.OFFLINE.value,)


PROGRAM_LIFECYCLE: StateMachine[ProgramStatus] = StateMachine(
    name="program",
    transitions={"archive": (frozenset({ProgramStatus.ACTIVE}), ProgramStatus.ARCHIVED)},
)


@dataclass(frozen=True, kw_only=True)
class ApplicationRequirements:
    """What an applicant must provide: never a fee or deposit (docs/program-settings.md)."""

    real_name: bool = False
    phone: bool = False
    agreement_version: str | None = None


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
    # A withdrawal (asked for or in a payout batch) needs the legal name and tax id first.
    require_tax_profile: bool = False


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
    # What an open anomaly naming a promoter holds (server/domain/fraud/holds.py).
    fraud_hold_scope: str = DEFAULT_FRAUD_HOLD_SCOPE.value
    # Custom codes (generated or reviewed) and per-promoter quotas (server/domain/sharing/rules.py).
    sharing_rules: SharingRules = field(default_factory=SharingRules)
    # Whether promoters see their rank in the program on their dashboard (docs/reports.md).
    leaderboard_enabled: bool = False
