"""A commission line: its figures, its explanation, and how a refund recomputes it."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import ROUND_DOWN, Decimal, localcontext
from enum import StrEnum
from typing import Any

from server.domain.commissions.rules import RuleKind
from server.domain.errors import ValidationFailed
from server.domain.money import exponent, round_down


class RuleSource(StrEnum):
    PROGRAM_LEVEL = "program_level"  # the program's rate for levels 1..n
    SELF_REBATE = "self_rebate"  # the program's self-purchase rebate (level 0)
    RULE = "rule"  # a CommissionRule


class CappedBy(StrEnum):
    LINE_NET = "line_net"
    # What nearer levels left of the line's net: a line never pays more than its net in all.
    LINE_LEFT = "line_left"
    LINE_CAP = "line_cap"
    PERIOD_CAP = "period_cap"


@dataclass(frozen=True, kw_only=True)
class CommissionLine:
    """One commission: what `promoter_id` earns at `level` on one order line.

    It carries the snapshot a refund is recomputed from and the upline at order time.
    """

    line_id: str
    promoter_id: int
    level: int
    currency: str
    kind: str
    rate: Decimal | None
    fixed_per_unit: Decimal | None
    quantity: int
    line_amount: Decimal
    base: Decimal
    rule_id: int | None
    rule_source: str
    cap_per_line: Decimal | None
    period_room: Decimal | None
    exact_amount: Decimal
    capped_by: str | None
    amount: Decimal
    upline_ids: tuple[int, ...]
    explanation: dict[str, Any] = field(hash=False)
    # The figure after its limits, before rounding: what the line's farther levels find left
    # is the net less these (exact, so that a refund's result does not depend on the steps).
    limited_amount: Decimal | None = field(default=None, hash=False, compare=False)
    # The beneficiary's tier benefits at order time: a shorter freeze, approval without staff.
    freeze_days: int | None = field(default=None, compare=False)
    auto_approve: bool = field(default=False, compare=False)
    # The program's rule-set version the line was computed under.
    rule_set_version: int | None = field(default=None, compare=False)

    @property
    def value(self) -> Decimal:
        """The rate (percent rules) or the fixed amount per unit (fixed rules)."""
        return self.rate if self.rate is not None else self.fixed_per_unit or Decimal(0)


# ---------------------------------------------------------------- amounts


@dataclass(frozen=True, kw_only=True)
class LineAmount:
    """The stages of one commission figure: exact, limited, rounded."""

    exact: Decimal
    capped_by: str | None
    limited: Decimal
    amount: Decimal


def commission_amount(
    *,
    kind: str,
    value: Decimal,
    quantity: int,
    line_amount: Decimal,
    net: Decimal,
    currency: str,
    cap_per_line: Decimal | None = None,
    period_room: Decimal | None = None,
    line_left: Decimal | None = None,
) -> LineAmount:
    """Exact figure, limits (net, what nearer levels left of it, line cap, period room),
    then one rounding down."""
    # Exact arithmetic wide enough for any stored amount; truncation instead of the default
    # half-even so that even a non-terminating division can only err below the exact value.
    with localcontext() as context:
        context.prec = 60
        context.rounding = ROUND_DOWN
        if kind == RuleKind.PERCENT:
            exact = value * net / 100
        elif kind == RuleKind.FIXED:
            exact = value * quantity * net / line_amount if line_amount else Decimal(0)
        else:
            raise ValidationFailed(
                f"unknown commission kind {kind!r}",
                code="invalid_commission_rule",
                fields={"kind": "must be one of percent, fixed"},
            )
    figure, capped_by = exact, None
    for name, limit in (
        (CappedBy.LINE_NET, net),
        (CappedBy.LINE_LEFT, line_left),
        (CappedBy.LINE_CAP, cap_per_line),
        (CappedBy.PERIOD_CAP, period_room),
    ):
        if limit is not None and limit < figure:
            figure, capped_by = limit, name.value
    return LineAmount(
        exact=exact, capped_by=capped_by, limited=figure, amount=round_down(figure, currency)
    )


def _formula(kind: str, value: Decimal, quantity: int, net: Decimal, amount: Decimal) -> str:
    if kind == RuleKind.PERCENT:
        return f"{value}% × {net}"
    return f"{value} per unit × {quantity} × {net} / {amount}"


def amount_explanation(line: CommissionLine) -> dict[str, Any]:
    """The parts of a line's explanation that a refund changes (base, figures, amount)."""
    return {
        "base": str(line.base),
        "formula": _formula(line.kind, line.value, line.quantity, line.base, line.line_amount),
        "exact": str(line.exact_amount),
        "capped_by": line.capped_by,
        "rounding": f"down to {Decimal(1).scaleb(-exponent(line.currency))} {line.currency}",
        "amount": str(line.amount),
    }


# ---------------------------------------------------------------- refunds


def _check_new_net(line: CommissionLine, new_net: Decimal) -> None:
    if not new_net.is_finite() or new_net < 0 or new_net > line.base:
        raise ValidationFailed(
            "a refund leaves a net between 0 and the current base",
            code="invalid_refund",
            fields={"new_net": f"must be between 0 and {line.base}"},
        )
    if new_net != round_down(new_net, line.currency):
        raise ValidationFailed(
            f"too many decimals for {line.currency}",
            code="invalid_refund",
            fields={"new_net": f"at most {exponent(line.currency)} decimals"},
        )


def recompute_after_refund(line: CommissionLine, *, new_net: Decimal) -> Decimal:
    """What `line` earns once its order line's net is `new_net`; 422 `invalid_refund`."""
    _check_new_net(line, new_net)
    return commission_amount(
        kind=line.kind,
        value=line.value,
        quantity=line.quantity,
        line_amount=line.line_amount,
        net=new_net,
        currency=line.currency,
        cap_per_line=line.cap_per_line,
        period_room=line.period_room,
    ).amount


def apply_refund(
    line: CommissionLine, *, new_net: Decimal, line_left: Decimal | None = None
) -> CommissionLine:
    """`line` after a refund; `line_left` is what nearer levels left of `new_net` (None: all)."""
    _check_new_net(line, new_net)
    figures = commission_amount(
        kind=line.kind,
        value=line.value,
        quantity=line.quantity,
        line_amount=line.line_amount,
        net=new_net,
        currency=line.currency,
        cap_per_line=line.cap_per_line,
        period_room=line.period_room,
        line_left=line_left,
    )
    updated = replace(
        line,
        base=new_net,
        exact_amount=figures.exact,
        capped_by=figures.capped_by,
        amount=figures.amount,
        limited_amount=figures.limited,
    )
    history = [
        *line.explanation.get("recomputed", []),
        {
            "net_before": str(line.base),
            "amount_before": str(line.amount),
            "net": str(new_net),
            "amount": str(figures.amount),
        },
    ]
    order_line = {
        **line.explanation.get("order_line", {}),
        "refunded_amount": str(line.line_amount - new_net),
    }
    explanation = {
        **line.explanation,
        **amount_explanation(updated),
        "order_line": order_line,
        "recomputed": history,
    }
    if "caps" in line.explanation:
        left = new_net if line_left is None else line_left
        explanation["caps"] = {**line.explanation["caps"], "line_left": line_left_text(left, line)}
    return replace(updated, explanation=explanation)


def line_left_text(line_left: Decimal, line: CommissionLine) -> str:
    """What the nearer levels left of the line's net, as its explanation shows it: in the
    currency's units (the amount is never more)."""
    return str(round_down(line_left, line.currency))


def cancel_line(line: CommissionLine) -> CommissionLine:
    """`line` after a full refund or a cancellation: it pays nothing."""
    return apply_refund(line, new_net=Decimal(0))
