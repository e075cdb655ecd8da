"""Validation of tiers, boosts and milestone bonuses as staff configure them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import ROUND_DOWN, Decimal

from server.domain.commissions.rules import amount_error, percent_error
from server.domain.programs.levels import HARD_MAX_COMMISSION_LEVELS
from server.domain.programs.settings import RATE_DECIMALS, RATE_QUANTUM
from server.domain.tiers.ladder import DEFAULT_TIER, MAX_PERIOD_DAYS
from server.domain.tiers.rewards import MilestoneBonus

# A tier or a boost may at most triple a rate (a higher figure is a typing slip).
MAX_MULTIPLIER = Decimal(3)
MAX_FREEZE_DAYS = 365
CODE_LENGTH = 32


def _amount_problem(value: Decimal | None, currency: str, *, positive: bool) -> str | None:
    return None if value is None else amount_error(value, currency, positive=positive)


def multiplier_problem(value: Decimal | None) -> str | None:
    if value is None:
        return None
    if not value.is_finite() or value < 1 or value > MAX_MULTIPLIER:
        return f"must be between 1 and {MAX_MULTIPLIER}"
    if value != value.quantize(RATE_QUANTUM, rounding=ROUND_DOWN):
        return f"at most {RATE_DECIMALS} decimals"
    return None


def window_problems(starts_at: datetime | None, ends_at: datetime | None) -> dict[str, str]:
    """A campaign window: both instants set, aware, and in order."""
    errors: dict[str, str] = {}
    for name, value in (("starts_at", starts_at), ("ends_at", ends_at)):
        if value is None:
            errors[name] = "required"
        elif value.utcoffset() is None:
            errors[name] = "must carry a time zone"
    if not errors and starts_at is not None and ends_at is not None and starts_at >= ends_at:
        errors["ends_at"] = "must be after starts_at"
    return errors


def tier_problems(
    *,
    code: str,
    rank: int,
    period_days: int,
    conditions: Mapping[str, Decimal | int | None],
    level_rates: Mapping[int, Decimal],
    rate_multiplier: Decimal | None,
    freeze_days: int | None,
    currency: str,
) -> dict[str, str]:
    """Every broken field of a tier, keyed by field; empty when usable."""
    errors: dict[str, str] = {}
    if not code or not code.strip() or len(code) > CODE_LENGTH:
        errors["code"] = f"1 to {CODE_LENGTH} characters"
    base = code == DEFAULT_TIER
    # The default tier (every promoter's before any other) may be named and given benefits;
    # it ranks 0 and has no conditions.
    if base and rank != 0:
        errors["rank"] = "the default tier ranks 0"
    elif not base and rank < 1:
        errors["rank"] = "must be at least 1 (the default tier ranks 0)"
    if not 1 <= period_days <= MAX_PERIOD_DAYS:
        errors["period_days"] = f"must be between 1 and {MAX_PERIOD_DAYS}"
    for name in ("min_net_sales", "min_settled_commissions"):
        value = conditions.get(name)
        if problem := _amount_problem(value, currency, positive=False):  # type: ignore[arg-type]
            errors[name] = problem
    customers = conditions.get("min_paying_customers")
    if customers is not None and (not isinstance(customers, int) or customers < 0):
        errors["min_paying_customers"] = "must be a whole number of at least 0"
    if base and any(value is not None for value in conditions.values()):
        errors["conditions"] = "the default tier has no conditions: everyone starts in it"
    elif not base and all(value is None for value in conditions.values()):
        errors["conditions"] = "a tier needs at least one condition on the promoter's own results"
    for level, rate in level_rates.items():
        if not 0 <= level <= HARD_MAX_COMMISSION_LEVELS:
            errors[f"level_rates.{level}"] = f"levels run 0..{HARD_MAX_COMMISSION_LEVELS}"
        elif problem := percent_error(rate):
            errors[f"level_rates.{level}"] = problem
    if problem := multiplier_problem(rate_multiplier):
        errors["rate_multiplier"] = problem
    if freeze_days is not None and not 0 <= freeze_days <= MAX_FREEZE_DAYS:
        errors["freeze_days"] = f"must be between 0 and {MAX_FREEZE_DAYS}"
    return errors


def boost_problems(
    *,
    multiplier: Decimal,
    max_rate: Decimal | None,
    starts_at: datetime | None,
    ends_at: datetime | None,
) -> dict[str, str]:
    """Every broken field of a boost; empty when usable."""
    errors = window_problems(starts_at, ends_at)
    if problem := multiplier_problem(multiplier):
        errors["multiplier"] = problem
    if max_rate is not None and (problem := percent_error(max_rate)):
        errors["max_rate"] = problem
    return errors


def bonus_problems(bonus: MilestoneBonus, *, currency: str) -> dict[str, str]:
    """Every broken field of a milestone bonus; empty when usable."""
    errors = window_problems(bonus.starts_at, bonus.ends_at)
    if problem := _amount_problem(bonus.target_net_sales, currency, positive=True):
        errors["target_net_sales"] = problem
    if problem := _amount_problem(bonus.amount, currency, positive=True):
        errors["amount"] = problem
    if bonus.max_awards is not None and bonus.max_awards < 1:
        errors["max_awards"] = "must be at least 1 (null for no limit)"
    return errors
