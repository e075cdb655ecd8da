"""The legal cap on paid levels: how many promoters may earn on one order line.

docs/lawful-levels.md gives the law behind it; the deployment sets the cap
(`MAX_COMMISSION_LEVELS`) and passes it in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from server.domain.errors import ValidationFailed
from server.domain.programs.document import settings_from_document
from server.domain.programs.settings import ProgramSettings

DEFAULT_MAX_COMMISSION_LEVELS = 2
# 公通字〔2013〕37号: three levels (and thirty people) is the criminal threshold.
HARD_MAX_COMMISSION_LEVELS = 3
MIN_COMMISSION_LEVELS = 1
LEVEL_CAP_ERROR = "commission_levels_over_cap"


def level_cap_problem(cap: object) -> str | None:
    """Why `cap` cannot be the deployment's MAX_COMMISSION_LEVELS, or None when it can."""
    if isinstance(cap, bool) or not isinstance(cap, int):
        return "must be a whole number"
    if not MIN_COMMISSION_LEVELS <= cap <= HARD_MAX_COMMISSION_LEVELS:
        return (
            f"must be between {MIN_COMMISSION_LEVELS} and {HARD_MAX_COMMISSION_LEVELS}: "
            "more paid levels is what 《禁止传销条例》 and WeChat's rules forbid"
        )
    return None


def deepest_paid_level(
    *, max_levels: int, self_purchase: bool, self_rebate_enabled: bool, cap: int
) -> int:
    """The deepest level a chain pays: the program's level count, and never more than `cap`
    places counted from the chain's first earner.

    A self purchase with the rebate on starts at level 0 (the buyer takes the first place,
    their upline the second); every other chain starts at level 1. A forfeited level still
    takes its place: it is never passed up.
    """
    first = 0 if self_purchase and self_rebate_enabled else 1
    return min(max_levels, first + cap - 1)


def levels_over_cap(max_levels: int, cap: int) -> dict[str, str]:
    """The settings error when a program's level count is above the deployment's cap."""
    if max_levels <= cap:
        return {}
    return {
        "max_levels": (
            f"at most {cap} paid levels on this deployment (MAX_COMMISSION_LEVELS): "
            "counting the self-purchase rebate, no more promoters than that earn on one order"
        )
    }


def rule_level_over_cap(level: int | None, cap: int) -> dict[str, str]:
    """The error when a commission rule names a level no order can pay under the cap."""
    if level is None or level <= cap:
        return {}
    return {"level": f"at most {cap} (MAX_COMMISSION_LEVELS; null for every level)"}


def over_cap_error(fields: dict[str, str], *, cap: int) -> ValidationFailed:
    """The coded 422 for settings or rules that would pay more levels than the cap."""
    return ValidationFailed(
        f"at most {cap} promoters may earn on one order line on this deployment",
        code=LEVEL_CAP_ERROR,
        fields=fields,
    )


def settings_within_cap(document: Mapping[str, Any], *, cap: int) -> ProgramSettings:
    """Settings from a document about to be saved, refused when they pay above the cap.

    A level count above `cap` is refused with `commission_levels_over_cap` whatever else is
    wrong (every other bad field is listed too); otherwise as `settings_from_document`.
    """
    levels = document.get("max_levels")
    over = levels_over_cap(levels, cap) if type(levels) is int else {}
    try:
        settings = settings_from_document(document)
    except ValidationFailed as invalid:
        if over:
            raise over_cap_error({**invalid.fields, **over}, cap=cap) from None
        raise
    if over:
        raise over_cap_error(over, cap=cap)
    return settings


@dataclass(frozen=True, kw_only=True)
class CappedLevels:
    """A stored program's levels brought within the cap (the upgrade migration's figures)."""

    max_levels: int
    level_rates: list[Any]


def capped_levels(max_levels: int, level_rates: Sequence[Any], cap: int) -> CappedLevels | None:
    """The program's levels cut to `cap` (nearest levels kept), or None when within it."""
    if max_levels <= cap:
        return None
    return CappedLevels(max_levels=cap, level_rates=list(level_rates)[:cap])
