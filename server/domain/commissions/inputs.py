"""What the commission calculation is given: program terms, the order, and who may earn."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from decimal import Decimal
from enum import StrEnum

from server.domain.errors import ValidationFailed
from server.domain.money import MAX_AMOUNT, exponent, round_down
from server.domain.periods import zone
from server.domain.programs.levels import DEFAULT_MAX_COMMISSION_LEVELS, deepest_paid_level
from server.domain.programs.settings import ProgramSettings
from server.domain.promoters.status import ACTIVE_STATUSES
from server.domain.tiers.benefits import Boost
from server.domain.tiers.ladder import TierBenefits


@dataclass(frozen=True, kw_only=True)
class ProgramTerms:
    """The part of a program the commission engine needs (window days of 0 = no limit)."""

    program_id: int
    currency: str
    level_rates: tuple[Decimal, ...]
    self_rebate_enabled: bool = False
    self_rebate_rate: Decimal = Decimal(0)
    commission_window_days: int = 0
    attribution_window_days: int = 0
    timezone: tzinfo = UTC
    # The deployment's MAX_COMMISSION_LEVELS: places that may earn on one order line.
    level_cap: int = DEFAULT_MAX_COMMISSION_LEVELS
    # Benefits of the program's enabled tiers by code, and its enabled boosts.
    tier_benefits: Mapping[str, TierBenefits] = field(default_factory=dict)
    boosts: tuple[Boost, ...] = ()
    # The rule-set version these terms come from: every commission line names it.
    rule_set_version: int | None = None

    @property
    def max_levels(self) -> int:
        return len(self.level_rates)

    def deepest_level(self, kind: ChainKind) -> int:
        """The deepest level a chain of `kind` pays under the program and the level cap."""
        return deepest_paid_level(
            max_levels=self.max_levels,
            self_purchase=kind == ChainKind.SELF_PURCHASE,
            self_rebate_enabled=self.self_rebate_enabled,
            cap=self.level_cap,
        )

    @classmethod
    def from_settings(
        cls,
        program_id: int,
        settings: ProgramSettings,
        *,
        level_cap: int,
        timezone: tzinfo | None = None,
    ) -> ProgramTerms:
        """Terms of a program from its validated settings, periods in its time zone."""
        return cls(
            program_id=program_id,
            currency=settings.currency,
            level_rates=tuple(settings.level_rates),
            self_rebate_enabled=settings.self_rebate_enabled,
            self_rebate_rate=settings.self_rebate_rate,
            commission_window_days=settings.commission_window_days,
            attribution_window_days=settings.attribution_window_days,
            timezone=timezone if timezone is not None else zone(settings.time_zone),
            level_cap=level_cap,
        )


@dataclass(frozen=True, kw_only=True)
class OrderLine:
    """One line of an order as it stands now (after the refunds so far)."""

    line_id: str
    product_id: str
    quantity: int
    unit_price: Decimal
    amount: Decimal
    category: str | None = None
    refunded_amount: Decimal = Decimal(0)

    @property
    def net(self) -> Decimal:
        """What is left of the line after refunds: the commission base."""
        return self.amount - self.refunded_amount


@dataclass(frozen=True, kw_only=True)
class OrderSnapshot:
    """An order as the engine sees it; `placed_at` is aware and decides rules and windows."""

    program_id: int
    currency: str
    placed_at: datetime
    lines: tuple[OrderLine, ...]
    site_id: int | None = None
    campaign: str | None = None


class ChainKind(StrEnum):
    SELF_PURCHASE = "self_purchase"  # the buyer is an approved promoter: levels 0..n
    REFERRED = "referred"  # attributed to a promoter: levels 1..n
    NOBODY = "nobody"  # no promoter earns on this order


@dataclass(frozen=True, kw_only=True)
class ChainMember:
    """A promoter of the chain as they stood at order time."""

    promoter_id: int
    status: str
    tier: str | None = None

    @property
    def may_earn(self) -> bool:
        return self.status in ACTIVE_STATUSES


@dataclass(frozen=True, kw_only=True)
class BeneficiaryChain:
    """Who may earn on an order, nearest first: `members[0]` sits at `first_level`.

    `bound_at` starts the commission window; None means no window applies.
    """

    kind: ChainKind
    members: tuple[ChainMember, ...] = ()
    bound_at: datetime | None = None

    @classmethod
    def self_purchase(cls, buyer: ChainMember, uplines: Sequence[ChainMember]) -> BeneficiaryChain:
        """Level 0 the buyer, level 1 the buyer's upline, and so on (uplines nearest first)."""
        return cls(kind=ChainKind.SELF_PURCHASE, members=(buyer, *uplines))

    @classmethod
    def referred(
        cls,
        promoter: ChainMember,
        uplines: Sequence[ChainMember],
        *,
        bound_at: datetime | None,
    ) -> BeneficiaryChain:
        """Level 1 the attributed promoter, level 2 their upline, and so on."""
        return cls(kind=ChainKind.REFERRED, members=(promoter, *uplines), bound_at=bound_at)

    @classmethod
    def nobody(cls) -> BeneficiaryChain:
        return cls(kind=ChainKind.NOBODY)

    @property
    def first_level(self) -> int:
        return 0 if self.kind == ChainKind.SELF_PURCHASE else 1

    def levels(self, max_levels: int) -> list[tuple[int, ChainMember]]:
        """(level, member) for every level the program pays (0..max_levels), nearest first."""
        if self.kind == ChainKind.NOBODY:
            return []
        numbered = enumerate(self.members, start=self.first_level)
        return [(level, member) for level, member in numbered if level <= max_levels]

    def snapshot(self) -> list[dict[str, int | str | None]]:
        """The chain as recorded on each commission line: level, promoter, status, tier."""
        return [
            {"level": level, "promoter_id": m.promoter_id, "status": m.status, "tier": m.tier}
            for level, m in enumerate(self.members, start=self.first_level)
        ]


def buyer_starts_chain(buyer_promoter: ChainMember | None) -> bool:
    """True when the buyer's own promoter profile starts the chain (approved at order time)."""
    return buyer_promoter is not None and buyer_promoter.may_earn


# ---------------------------------------------------------------- validation


def _amount_problem(value: Decimal, currency: str) -> str | None:
    if not isinstance(value, Decimal) or not value.is_finite():
        return "not a decimal amount"
    if value < 0 or value > MAX_AMOUNT:
        return "out of range"
    if value != round_down(value, currency):
        return f"at most {exponent(currency)} decimals for {currency}"
    return None


def _line_problems(index: int, line: OrderLine, currency: str) -> dict[str, str]:
    prefix = f"lines.{index}."
    problems: dict[str, str] = {}
    if not line.line_id:
        problems[prefix + "line_id"] = "required"
    if not line.product_id:
        problems[prefix + "product_id"] = "required"
    if isinstance(line.quantity, bool) or not isinstance(line.quantity, int) or line.quantity < 1:
        problems[prefix + "quantity"] = "must be a whole number of at least 1"
    price = line.unit_price
    if not isinstance(price, Decimal) or not price.is_finite() or price < 0:
        problems[prefix + "unit_price"] = "must be a non-negative decimal"
    for name in ("amount", "refunded_amount"):
        if problem := _amount_problem(getattr(line, name), currency):
            problems[prefix + name] = problem
    if not problems and line.refunded_amount > line.amount:
        problems[prefix + "refunded_amount"] = "more than the line amount"
    return problems


def validate_order(order: OrderSnapshot, terms: ProgramTerms) -> None:
    """Refuse an order the engine cannot compute, with a code and the fields at fault."""
    exponent(terms.currency)
    if order.program_id != terms.program_id:
        raise ValidationFailed(
            "the order belongs to another program",
            code="program_mismatch",
            fields={"program_id": f"expected {terms.program_id}"},
        )
    if order.currency != terms.currency:
        raise ValidationFailed(
            f"the order is in {order.currency}, the program pays in {terms.currency}",
            code="currency_mismatch",
            fields={"currency": f"must be {terms.currency}"},
        )
    order_problems: dict[str, str] = {}
    if order.placed_at.utcoffset() is None:
        order_problems["placed_at"] = "must carry a time zone"
    if not order.lines:
        order_problems["lines"] = "at least one line"
    elif len({line.line_id for line in order.lines}) != len(order.lines):
        order_problems["lines"] = "line ids must be unique"
    if order_problems:
        raise ValidationFailed("invalid order", code="invalid_order", fields=order_problems)

    line_problems: dict[str, str] = {}
    for index, line in enumerate(order.lines):
        line_problems.update(_line_problems(index, line, terms.currency))
    if line_problems:
        raise ValidationFailed(
            "invalid order line", code="invalid_order_line", fields=line_problems
        )
    too_high = {
        f"lines.{index}.amount": f"above quantity × unit_price ({line.quantity * line.unit_price})"
        for index, line in enumerate(order.lines)
        if line.amount > line.quantity * line.unit_price
    }
    if too_high:
        raise ValidationFailed(
            "a line amount is above quantity × unit price",
            code="line_amount_mismatch",
            fields=too_high,
        )
