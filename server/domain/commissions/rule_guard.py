"""The guard on a program's rule set: one order line never pays out more than its net.

Checks every situation a line can be in, exactly; see docs/design/commissions.md.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from server.domain.commissions.inputs import ProgramTerms
from server.domain.commissions.rules import CommissionRule, RuleFacts, RuleKind, select_rule
from server.domain.errors import ValidationFailed

OVERPAY_ERROR = "rule_set_overpays"
MAX_TOTAL_PERCENT = Decimal(100)
LINE_FIELDS = ("product_id", "category", "campaign", "site_id")
# Ids start at 1: no rule names promoter 0, so it stands for "any other promoter".
OTHER_PROMOTER = 0
EARLIEST = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True, kw_only=True)
class LevelPay:
    """What one level pays in the worst situation found, and the rule and promoter behind it."""

    level: int
    percent: Decimal
    rule_id: int | None
    promoter_id: int | None


@dataclass(frozen=True, kw_only=True)
class Overpayment:
    """A situation in which an order line would pay more than 100% of its net."""

    total: Decimal
    line: dict[str, Any]
    placed_at: datetime | None
    levels: tuple[LevelPay, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "total_percent": str(self.total),
            "line": self.line,
            "placed_at": self.placed_at.isoformat() if self.placed_at else None,
            "levels": [
                {
                    "level": pay.level,
                    "percent": str(pay.percent),
                    "rule_id": pay.rule_id,
                    "promoter_id": pay.promoter_id,
                }
                for pay in self.levels
            ],
        }


def paying_levels(terms: ProgramTerms) -> list[int]:
    """The levels a chain can pay: 0..n with the self-purchase rebate on, else 1..n."""
    first = 0 if terms.self_rebate_enabled else 1
    return list(range(first, terms.max_levels + 1))


def _default_percent(level: int, terms: ProgramTerms) -> Decimal:
    return terms.self_rebate_rate if level == 0 else terms.level_rates[level - 1]


def _rule_percent(rule: CommissionRule) -> Decimal:
    # A fixed amount per unit cannot be compared with a price not yet known; its cap_per_line
    # and the line's net bound it instead.
    return rule.value if rule.kind == RuleKind.PERCENT else Decimal(0)


def _upper_bound(rules: Sequence[CommissionRule], terms: ProgramTerms) -> Decimal:
    """A quick bound ≥ the true worst total: each level's highest possible percent."""
    total = Decimal(0)
    for level in paying_levels(terms):
        candidates = [
            _rule_percent(rule) for rule in rules if rule.level is None or rule.level == level
        ]
        total += max([_default_percent(level, terms), *candidates])
    return total


def _other_text(named: set[Any]) -> str:
    # A product id no rule names; control characters never appear in a product id.
    candidate = "\x00other"
    while candidate in named:
        candidate += "\x00"
    return candidate


def _line_situations(
    rules: Sequence[CommissionRule], chosen: dict[str, Any] | None = None
) -> Iterator[tuple[dict[str, Any], list[CommissionRule]]]:
    """Every distinguishable line situation, with the rules its line facts do not exclude."""
    chosen = chosen or {}
    if len(chosen) == len(LINE_FIELDS):
        yield chosen, list(rules)
        return
    name = LINE_FIELDS[len(chosen)]
    named = {getattr(rule, name) for rule in rules} - {None}
    # An unnamed category, campaign or site is like a missing one; a product always has an id.
    other = _other_text(named) if name == "product_id" else None
    for value in [*sorted(named, key=str), other]:
        fitting = [rule for rule in rules if getattr(rule, name) in (None, value)]
        yield from _line_situations(fitting, {**chosen, name: value})


def _instants(rules: Sequence[CommissionRule]) -> list[datetime]:
    bounds = {rule.valid_from for rule in rules} | {rule.valid_to for rule in rules}
    return [EARLIEST, *sorted(bound for bound in bounds if bound is not None)]


def _level_options(
    rules: Sequence[CommissionRule],
    terms: ProgramTerms,
    line: dict[str, Any],
    at: datetime,
    level: int,
) -> tuple[LevelPay, dict[int, LevelPay]]:
    """The most a level pays to any other promoter, and to each promoter a rule names."""
    promoters = {rule.promoter_id for rule in rules if rule.promoter_id is not None}
    tiers: list[str | None] = [None, *sorted({r.tier for r in rules if r.tier is not None})]
    best: dict[int, LevelPay] = {}
    for promoter_id in [OTHER_PROMOTER, *sorted(promoters)]:
        for tier in tiers:
            facts = RuleFacts(
                program_id=terms.program_id,
                placed_at=at,
                level=level,
                promoter_id=promoter_id,
                tier=tier,
                **line,
            )
            rule = select_rule(rules, facts)
            percent = _default_percent(level, terms) if rule is None else _rule_percent(rule)
            if promoter_id not in best or percent > best[promoter_id].percent:
                best[promoter_id] = LevelPay(
                    level=level,
                    percent=percent,
                    rule_id=rule.id if rule is not None else None,
                    promoter_id=promoter_id or None,
                )
    other = best.pop(OTHER_PROMOTER)
    return other, {p: pay for p, pay in best.items() if pay.percent > other.percent}


def _worst_assignment(
    options: Sequence[tuple[LevelPay, dict[int, LevelPay]]],
) -> tuple[Decimal, tuple[LevelPay, ...]]:
    """The highest total over the levels with each named promoter used at one level at most."""
    ceilings = [
        max([other.percent, *(pay.percent for pay in named.values())]) for other, named in options
    ]
    remaining = [sum(ceilings[index:], Decimal(0)) for index in range(len(options) + 1)]
    best_total, best_path = Decimal(-1), ()

    def search(
        index: int, used: frozenset[int], total: Decimal, path: tuple[LevelPay, ...]
    ) -> None:
        nonlocal best_total, best_path
        if total + remaining[index] <= best_total:
            return
        if index == len(options):
            best_total, best_path = total, path
            return
        other, named = options[index]
        for promoter_id, pay in sorted(named.items(), key=lambda item: -item[1].percent):
            if promoter_id not in used:
                search(index + 1, used | {promoter_id}, total + pay.percent, (*path, pay))
        search(index + 1, used, total + other.percent, (*path, other))

    search(0, frozenset(), Decimal(0), ())
    return best_total, best_path


def _shown_line(line: dict[str, Any]) -> dict[str, Any]:
    shown = dict(line)
    if str(shown["product_id"]).startswith("\x00"):
        shown["product_id"] = None
    return shown


def worst_overpayment(
    rules: Sequence[CommissionRule], *, terms: ProgramTerms
) -> Overpayment | None:
    """A situation where an order line pays more than 100% of its net, or None if none can."""
    enabled = [rule for rule in rules if rule.enabled and rule.program_id == terms.program_id]
    if _upper_bound(enabled, terms) <= MAX_TOTAL_PERCENT:
        return None
    worst: Overpayment | None = None
    for line, fitting in _line_situations(enabled):
        for at in _instants(fitting):
            in_force = [rule for rule in fitting if rule.is_valid_at(at)]
            options = [
                _level_options(in_force, terms, line, at, level) for level in paying_levels(terms)
            ]
            total, path = _worst_assignment(options)
            if total > MAX_TOTAL_PERCENT and (worst is None or total > worst.total):
                worst = Overpayment(
                    total=total,
                    line=_shown_line(line),
                    placed_at=None if at == EARLIEST else at,
                    levels=path,
                )
    return worst


def ensure_rule_set_never_overpays(rules: Sequence[CommissionRule], *, terms: ProgramTerms) -> None:
    """Refuse (422 `rule_set_overpays`) a rule set under which a line pays over 100%."""
    found = worst_overpayment(rules, terms=terms)
    if found is None:
        return
    raise ValidationFailed(
        f"with this rule an order line could pay {found.total}% of its net across levels",
        code=OVERPAY_ERROR,
        fields={"rules": "the percents paid across levels exceed 100", "example": found.to_dict()},
    )
