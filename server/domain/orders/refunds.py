"""Refunds and cancellations: what each order line gives back, and what each commission
becomes (docs/design/orders.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal, localcontext
from typing import Any

from server.domain.commissions.lines import CommissionLine, apply_refund
from server.domain.commissions.status import (
    COMMISSION_LIFECYCLE,
    IN_LEDGER_STATUSES,
    UNSETTLED_STATUSES,
    CommissionStatus,
)
from server.domain.errors import ValidationFailed
from server.domain.money import round_down
from server.domain.orders.events import OrderRefunded
from server.domain.orders.parsing import check_precision


@dataclass(frozen=True, kw_only=True)
class LineBalance:
    """An order line as a refund sees it."""

    line_ref: str
    amount: Decimal
    refunded: Decimal

    @property
    def remaining(self) -> Decimal:
        return self.amount - self.refunded


def allocate_pro_rata(
    amount: Decimal, lines: Sequence[LineBalance], currency: str
) -> dict[str, Decimal]:
    """`amount` spread pro rata over what is left of each line; leftover cents to the largest."""
    total = sum((line.remaining for line in lines), Decimal(0))
    if amount > total:
        raise ValueError("cannot allocate more than what is left")
    shares: dict[str, Decimal] = {}
    with localcontext() as context:
        context.prec = 60
        context.rounding = ROUND_DOWN
        for line in lines:
            exact = amount * line.remaining / total if total else Decimal(0)
            shares[line.line_ref] = round_down(exact, currency)
    leftover = amount - sum(shares.values(), Decimal(0))
    # Largest remaining first; on a tie the later line (higher index) first.
    by_size = sorted(enumerate(lines), key=lambda item: (item[1].remaining, item[0]), reverse=True)
    for _index, line in by_size:
        if leftover <= 0:
            break
        room = line.remaining - shares[line.line_ref]
        extra = min(room, leftover)
        shares[line.line_ref] += extra
        leftover -= extra
    return shares


def _line_refunds(
    refund: OrderRefunded, by_ref: Mapping[str, LineBalance], currency: str
) -> dict[str, Decimal]:
    assert refund.lines is not None
    wanted: dict[str, Decimal] = {}
    for index, item in enumerate(refund.lines):
        field = f"order.lines.{index}"
        if item.line_ref not in by_ref:
            raise ValidationFailed(
                "the order has no such line",
                code="unknown_order_line",
                fields={field + ".line_ref": item.line_ref},
            )
        if item.line_ref in wanted:
            raise ValidationFailed(
                "a line is named twice in one refund",
                code="invalid_refund",
                fields={field + ".line_ref": "named twice"},
            )
        amount = check_precision(item.amount, currency, field=field + ".amount")
        if amount <= 0:
            raise ValidationFailed(
                "a refund line gives back more than 0",
                code="invalid_amount",
                fields={field + ".amount": "must be greater than 0"},
            )
        remaining = by_ref[item.line_ref].remaining
        if amount > remaining:
            raise ValidationFailed(
                "the refund is more than what is left of the line",
                code="refund_exceeds_line",
                fields={field + ".amount": f"at most {remaining}"},
            )
        wanted[item.line_ref] = amount
    return wanted


def plan_refund(
    refund: OrderRefunded, lines: Sequence[LineBalance], currency: str
) -> dict[str, Decimal]:
    """What each line gives back now (lines giving back nothing are left out)."""
    by_ref = {line.line_ref: line for line in lines}
    if refund.lines is not None:
        wanted = _line_refunds(refund, by_ref, currency)
    elif refund.full:
        wanted = {line.line_ref: line.remaining for line in lines}
    else:
        assert refund.amount is not None
        amount = check_precision(refund.amount, currency, field="order.amount")
        left = sum((line.remaining for line in lines), Decimal(0))
        if amount <= 0:
            raise ValidationFailed(
                "a refund gives back more than 0",
                code="invalid_amount",
                fields={"order.amount": "must be greater than 0"},
            )
        if amount > left:
            raise ValidationFailed(
                "the refund is more than what is left of the order",
                code="refund_exceeds_order",
                fields={"order.amount": f"at most {left}"},
            )
        wanted = allocate_pro_rata(amount, [line for line in lines if line.remaining > 0], currency)
    return {ref: amount for ref, amount in wanted.items() if amount > 0}


# ---------------------------------------------------------------- commission snapshots

_DECIMAL_FIELDS = (
    "rate",
    "fixed_per_unit",
    "line_amount",
    "base",
    "cap_per_line",
    "period_room",
    "exact_amount",
    "amount",
)
_PLAIN_FIELDS = ("line_id", "promoter_id", "level", "currency", "kind", "quantity", "rule_id")
_TEXT_FIELDS = ("rule_source", "capped_by")


def snapshot_of(line: CommissionLine) -> dict[str, Any]:
    """Everything needed to recompute `line` later, as JSON (Decimals as strings)."""
    snapshot: dict[str, Any] = {name: getattr(line, name) for name in _PLAIN_FIELDS}
    for name in _TEXT_FIELDS:
        snapshot[name] = getattr(line, name)
    for name in _DECIMAL_FIELDS:
        value = getattr(line, name)
        snapshot[name] = None if value is None else str(value)
    snapshot["upline_ids"] = list(line.upline_ids)
    return snapshot


def line_from_snapshot(
    snapshot: Mapping[str, Any], explanation: Mapping[str, Any]
) -> CommissionLine:
    """The CommissionLine a snapshot was taken of."""
    decimals = {
        name: None if snapshot.get(name) is None else Decimal(str(snapshot[name]))
        for name in _DECIMAL_FIELDS
    }
    return CommissionLine(
        line_id=str(snapshot["line_id"]),
        promoter_id=int(snapshot["promoter_id"]),
        level=int(snapshot["level"]),
        currency=str(snapshot["currency"]),
        kind=str(snapshot["kind"]),
        quantity=int(snapshot["quantity"]),
        rule_id=None if snapshot.get("rule_id") is None else int(snapshot["rule_id"]),
        rule_source=str(snapshot["rule_source"]),
        capped_by=snapshot.get("capped_by"),
        upline_ids=tuple(int(i) for i in snapshot.get("upline_ids", [])),
        explanation=dict(explanation),
        rate=decimals["rate"],
        fixed_per_unit=decimals["fixed_per_unit"],
        line_amount=decimals["line_amount"] or Decimal(0),
        base=decimals["base"] or Decimal(0),
        cap_per_line=decimals["cap_per_line"],
        period_room=decimals["period_room"],
        exact_amount=decimals["exact_amount"] or Decimal(0),
        amount=decimals["amount"] or Decimal(0),
    )


# ---------------------------------------------------------------- commission changes


@dataclass(frozen=True, kw_only=True)
class CommissionMove:
    """What one commission becomes; `clawback` when the ledger must take money back."""

    action: str  # refund | cancel
    status_before: str
    status_after: str
    amount_before: Decimal
    amount_after: Decimal
    line: CommissionLine | None
    clawback: bool

    @property
    def reversal(self) -> Decimal:
        return self.amount_before - self.amount_after


def _is_moving(status: str) -> bool:
    return status in UNSETTLED_STATUSES or status in IN_LEDGER_STATUSES


@dataclass(frozen=True, kw_only=True)
class KeptCommission:
    """A kept commission of an order line, as a refund finds it."""

    status: str
    amount: Decimal
    line: CommissionLine


def line_after_refund(
    kept: Sequence[KeptCommission], *, new_net: Decimal
) -> list[CommissionMove | None]:
    """What each kept commission of one line becomes at `new_net` (None: no move)."""
    # Nearest level first, each at most what the nearer ones left. Every kept commission's
    # exact figure counts, whatever its status, as when the order was paid, so a refund's
    # result never depends on the steps it came in.
    moves: list[CommissionMove | None] = [None] * len(kept)
    left = new_net
    for index in sorted(range(len(kept)), key=lambda position: kept[position].line.level):
        commission = kept[index]
        move = commission_after_refund(
            status=commission.status,
            amount=commission.amount,
            line=commission.line,
            new_net=new_net,
            line_left=left,
        )
        if move is not None and move.line is not None:
            recomputed = move.line
        else:
            recomputed = apply_refund(commission.line, new_net=new_net, line_left=left)
        left -= recomputed.limited_amount or Decimal(0)
        moves[index] = move
    return moves


def commission_after_refund(
    *,
    status: str,
    amount: Decimal,
    line: CommissionLine,
    new_net: Decimal,
    line_left: Decimal | None = None,
) -> CommissionMove | None:
    """The commission at its line's `new_net`, given the nearer levels' `line_left`."""
    if not _is_moving(status):
        return None
    updated = apply_refund(line, new_net=new_net, line_left=line_left)
    amount_after = min(updated.amount, amount)
    status_after = CommissionStatus(status)
    if amount_after == 0:
        status_after = COMMISSION_LIFECYCLE.target(status_after, "reverse")
    return CommissionMove(
        action="refund",
        status_before=status,
        status_after=status_after.value,
        amount_before=amount,
        amount_after=amount_after,
        line=updated,
        clawback=status in IN_LEDGER_STATUSES and amount_after < amount,
    )


def commission_after_cancel(*, status: str, amount: Decimal) -> CommissionMove | None:
    """The commission once its order is cancelled; None when it does not move."""
    if not _is_moving(status):
        return None
    current = CommissionStatus(status)
    if current in IN_LEDGER_STATUSES:
        return CommissionMove(
            action="cancel",
            status_before=status,
            status_after=COMMISSION_LIFECYCLE.target(current, "reverse").value,
            amount_before=amount,
            amount_after=Decimal(0),
            line=None,
            clawback=amount > 0,
        )
    return CommissionMove(
        action="cancel",
        status_before=status,
        status_after=COMMISSION_LIFECYCLE.target(current, "reject").value,
        amount_before=amount,
        amount_after=amount,
        line=None,
        clawback=False,
    )
