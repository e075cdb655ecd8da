"""The commission calculation: every commission line an order earns (and the dry run).

Figures, limits and rounding are in lines.py; the room under period caps in period_room.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from server.domain.commissions.inputs import (
    BeneficiaryChain,
    ChainMember,
    OrderLine,
    OrderSnapshot,
    ProgramTerms,
    validate_order,
)
from server.domain.commissions.lines import (
    CommissionLine,
    RuleSource,
    amount_explanation,
    commission_amount,
    line_left_text,
)
from server.domain.commissions.period_room import PeriodEarned, PeriodLedger, period_caps_of
from server.domain.commissions.rules import (
    CommissionRule,
    PeriodCap,
    PeriodWindow,
    RuleFacts,
    RuleKind,
    select_rule,
)
from server.domain.sharing.attribution import commission_window_end, commission_window_refusal
from server.domain.tiers.benefits import apply_incentives, select_boost


@dataclass(frozen=True, kw_only=True)
class SkippedLevel:
    """A level of the chain that earns nothing on the whole order, and why."""

    level: int
    promoter_id: int
    # beneficiary_not_approved (forfeited, never passed up) | self_rebate_disabled (level 0)
    # | over_level_cap (beyond MAX_COMMISSION_LEVELS places)
    reason: str


@dataclass(frozen=True, kw_only=True)
class OrderEvaluation:
    """Everything an order earns (the dry run); `refusal` is set when it earns nothing at
    all (`no_beneficiary`, `outside_commission_window`, `order_before_binding`)."""

    lines: tuple[CommissionLine, ...]
    skipped: tuple[SkippedLevel, ...]
    refusal: str | None = None

    @property
    def payable(self) -> tuple[CommissionLine, ...]:
        """The lines worth storing: amount above 0 (a refund can only lower an amount)."""
        return tuple(line for line in self.lines if line.amount > 0)

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal(0))

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dry-run report."""
        return {
            "refusal": self.refusal,
            "total": str(self.total),
            "lines": [line.explanation for line in self.lines],
            "skipped": [
                {"level": s.level, "promoter_id": s.promoter_id, "reason": s.reason}
                for s in self.skipped
            ],
        }


# ---------------------------------------------------------------- the order


def _rule_explanation(
    rule: CommissionRule | None, source: RuleSource, level: int
) -> dict[str, Any]:
    if rule is None:
        return {"source": source.value, "id": None, "level": level}
    return {
        "source": source.value,
        "id": rule.id,
        "level": rule.level,
        "scope": {name: str(value) for name, value in rule.scope().items()},
        "priority": rule.priority,
        "valid_from": rule.valid_from.isoformat() if rule.valid_from else None,
        "valid_to": rule.valid_to.isoformat() if rule.valid_to else None,
        "cap_per_line": str(rule.cap_per_line) if rule.cap_per_line is not None else None,
    }


def _rate_for(
    level: int, rule: CommissionRule | None, terms: ProgramTerms
) -> tuple[str, Decimal, RuleSource]:
    """The winning rule's rate, else the program's: the rebate at level 0, else its level's."""
    if rule is not None:
        return rule.kind, rule.value, RuleSource.RULE
    if level == 0:
        return RuleKind.PERCENT.value, terms.self_rebate_rate, RuleSource.SELF_REBATE
    return RuleKind.PERCENT.value, terms.level_rates[level - 1], RuleSource.PROGRAM_LEVEL


def _earning_levels(
    chain: BeneficiaryChain, terms: ProgramTerms
) -> tuple[list[tuple[int, ChainMember]], list[SkippedLevel]]:
    earning: list[tuple[int, ChainMember]] = []
    skipped: list[SkippedLevel] = []
    deepest = terms.deepest_level(chain.kind)
    for level, member in chain.levels(terms.max_levels):
        if level == 0 and not terms.self_rebate_enabled:
            reason: str | None = "self_rebate_disabled"
        elif level > deepest:
            reason = "over_level_cap"
        else:
            reason = None if member.may_earn else "beneficiary_not_approved"
        if reason:
            skipped.append(SkippedLevel(level=level, promoter_id=member.promoter_id, reason=reason))
        else:
            earning.append((level, member))
    return earning, skipped


def period_windows_needed(
    *,
    order: OrderSnapshot,
    terms: ProgramTerms,
    chain: BeneficiaryChain,
    period_caps: Sequence[PeriodCap],
) -> list[tuple[int, PeriodWindow]]:
    """(promoter_id, window) pairs whose "already earned" totals `evaluate_order` needs.

    The service sums each promoter's current commission amounts on orders placed in
    [window.start, window.end) and passes them as `period_earned[(promoter_id, window.key)]`.
    """
    earning, _skipped = _earning_levels(chain, terms)
    return [
        (member.promoter_id, window)
        for _level, member in earning
        for _cap, window in period_caps_of(
            member, order=order, terms=terms, period_caps=period_caps
        )
    ]


def _window_facts(
    order: OrderSnapshot, terms: ProgramTerms, chain: BeneficiaryChain
) -> dict[str, Any]:
    end = None
    if chain.bound_at is not None:
        end = commission_window_end(chain.bound_at, terms.commission_window_days)
    return {
        "chain": chain.kind.value,
        "placed_at": order.placed_at.isoformat(),
        "bound_at": chain.bound_at.isoformat() if chain.bound_at else None,
        "commission_window_days": terms.commission_window_days,
        "window_ends_at": end.isoformat() if end else None,
    }


@dataclass(frozen=True)
class _Evaluation:
    """What every line of one order shares while it is being computed."""

    order: OrderSnapshot
    terms: ProgramTerms
    rules: Sequence[CommissionRule]
    chain: BeneficiaryChain
    ledger: PeriodLedger
    context: dict[str, Any]

    def upline_ids(self, level: int) -> tuple[int, ...]:
        index = level - self.chain.first_level
        return tuple(member.promoter_id for member in self.chain.members[index + 1 :])


def evaluate_order(
    *,
    order: OrderSnapshot,
    terms: ProgramTerms,
    rules: Sequence[CommissionRule],
    chain: BeneficiaryChain,
    period_caps: Sequence[PeriodCap] = (),
    period_earned: PeriodEarned | None = None,
) -> OrderEvaluation:
    """Every commission line the order earns, with skipped levels: the dry run.

    Lines come order line by order line, levels nearest first within each, including lines
    whose amount is 0. Raises ValidationFailed for an order the engine cannot compute (see
    `validate_order`).
    """
    validate_order(order, terms)
    if not chain.levels(terms.max_levels):
        return OrderEvaluation(lines=(), skipped=(), refusal="no_beneficiary")
    if chain.bound_at is not None and (
        refusal := commission_window_refusal(
            bound_at=chain.bound_at,
            placed_at=order.placed_at,
            commission_window_days=terms.commission_window_days,
        )
    ):
        return OrderEvaluation(lines=(), skipped=(), refusal=refusal)

    earning, skipped = _earning_levels(chain, terms)
    caps = {
        member.promoter_id: period_caps_of(
            member, order=order, terms=terms, period_caps=period_caps
        )
        for _level, member in earning
    }
    shared = _Evaluation(
        order=order,
        terms=terms,
        rules=rules,
        chain=chain,
        ledger=PeriodLedger(earned=period_earned or {}, caps=caps),
        context={"attribution": _window_facts(order, terms, chain), "chain": chain.snapshot()},
    )
    lines: list[CommissionLine] = []
    for line in order.lines:
        # Nearer levels first: each level earns at most what the nearer ones left of the net.
        # Only a commission worth a cent is kept, and only a kept one counts against what is
        # left, now and when a refund recomputes the line (`line_left_after`).
        left = line.net
        for level, member in earning:
            commission = _commission_line(shared, line, level, member, line_left=left)
            if commission.amount > 0:
                left -= commission.limited_amount or Decimal(0)
            lines.append(commission)
    return OrderEvaluation(lines=tuple(lines), skipped=tuple(skipped))


def _commission_line(
    shared: _Evaluation, line: OrderLine, level: int, member: ChainMember, *, line_left: Decimal
) -> CommissionLine:
    order, terms = shared.order, shared.terms
    facts = RuleFacts(
        program_id=order.program_id,
        placed_at=order.placed_at,
        level=level,
        product_id=line.product_id,
        category=line.category,
        campaign=order.campaign,
        site_id=order.site_id,
        promoter_id=member.promoter_id,
        tier=member.tier,
    )
    rule = select_rule(shared.rules, facts)
    kind, rule_value, source = _rate_for(level, rule, terms)
    benefits = terms.tier_benefits.get(member.tier) if member.tier else None
    value, incentives = apply_incentives(
        kind=kind,
        value=rule_value,
        level=level,
        rule_matched=rule is not None,
        benefits=benefits,
        boost=select_boost(terms.boosts, placed_at=order.placed_at, tier=member.tier),
        currency=terms.currency,
    )
    cap_per_line = rule.cap_per_line if rule is not None else None
    room, period_facts = shared.ledger.room(member.promoter_id)
    figures = commission_amount(
        kind=kind,
        value=value,
        quantity=line.quantity,
        line_amount=line.amount,
        net=line.net,
        currency=terms.currency,
        cap_per_line=cap_per_line,
        period_room=room,
        line_left=line_left,
    )
    shared.ledger.consume(member.promoter_id, figures.amount)
    commission = CommissionLine(
        line_id=line.line_id,
        promoter_id=member.promoter_id,
        level=level,
        currency=terms.currency,
        kind=kind,
        rate=value if kind == RuleKind.PERCENT else None,
        fixed_per_unit=value if kind == RuleKind.FIXED else None,
        quantity=line.quantity,
        line_amount=line.amount,
        base=line.net,
        rule_id=rule.id if rule is not None else None,
        rule_source=source.value,
        cap_per_line=cap_per_line,
        period_room=room,
        exact_amount=figures.exact,
        capped_by=figures.capped_by,
        amount=figures.amount,
        upline_ids=shared.upline_ids(level),
        explanation={},
        limited_amount=figures.limited,
        freeze_days=benefits.freeze_days if benefits is not None else None,
        auto_approve=benefits.auto_approve if benefits is not None else False,
        rule_set_version=terms.rule_set_version,
    )
    explanation = {
        "order_line": {
            "line_id": line.line_id,
            "product_id": line.product_id,
            "category": line.category,
            "quantity": line.quantity,
            "unit_price": str(line.unit_price),
            "amount": str(line.amount),
            "refunded_amount": str(line.refunded_amount),
        },
        "beneficiary": {
            "level": level,
            "promoter_id": member.promoter_id,
            "tier": member.tier,
            "status": member.status,
        },
        "rule": {**_rule_explanation(rule, source, level), "kind": kind, "value": str(rule_value)},
        "caps": {
            "line_cap": str(cap_per_line) if cap_per_line is not None else None,
            "periods": period_facts,
            # What the nearer levels left of the net (the line pays at most its net in all),
            # in the currency's units: the amount is never more.
            "line_left": line_left_text(line_left, commission),
        },
        "currency": terms.currency,
        "rule_set_version": terms.rule_set_version,
        # The tier's benefits and the boost that changed the rate, when any did.
        **({"incentives": incentives} if incentives is not None else {}),
        **shared.context,
        **amount_explanation(commission),
    }
    return replace(commission, explanation=explanation)


def compute_commissions(
    *,
    order: OrderSnapshot,
    terms: ProgramTerms,
    rules: Sequence[CommissionRule],
    chain: BeneficiaryChain,
    period_caps: Sequence[PeriodCap] = (),
    period_earned: PeriodEarned | None = None,
) -> list[CommissionLine]:
    """The commission lines to store for an order: those with an amount above 0."""
    evaluation = evaluate_order(
        order=order,
        terms=terms,
        rules=rules,
        chain=chain,
        period_caps=period_caps,
        period_earned=period_earned,
    )
    return list(evaluation.payable)
