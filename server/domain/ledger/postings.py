"""Ledger arithmetic: the postings each kind of movement makes, balances after them,
reconciliation of cached balances with entries, and when a commission may be approved.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from server.domain.commissions.status import COMMISSION_LIFECYCLE, CommissionStatus
from server.domain.errors import Conflict, IllegalTransition, ValidationFailed
from server.domain.money import MAX_AMOUNT, exponent
from server.domain.programs.settings import AutoApproveRules

ZERO = Decimal("0.00")
# Storage is DECIMAL(18,2): no posting may be finer than a cent, whatever the currency.
STORAGE_QUANTUM = Decimal("0.01")


class Account(StrEnum):
    AVAILABLE = "available"
    ON_HOLD = "on_hold"
    PAID = "paid"


class MovementKind(StrEnum):
    SETTLE = "settle"
    HOLD = "hold"
    RELEASE = "release"
    PAY = "pay"
    FEE = "fee"
    TAX = "tax"
    ADJUSTMENT = "adjustment"
    CLAWBACK = "clawback"
    BONUS = "bonus"  # a milestone bonus (server/domain/tiers/rewards.py)


_A = Account
_K = MovementKind

# kind -> (account, sign) per posting; sign 0 means "either sign".
MOVEMENT_SHAPES: Mapping[MovementKind, tuple[tuple[Account, int], ...]] = {
    _K.SETTLE: ((_A.AVAILABLE, 1),),
    _K.HOLD: ((_A.AVAILABLE, -1), (_A.ON_HOLD, 1)),
    _K.RELEASE: ((_A.ON_HOLD, -1), (_A.AVAILABLE, 1)),
    _K.PAY: ((_A.ON_HOLD, -1), (_A.PAID, 1)),
    _K.FEE: ((_A.ON_HOLD, -1),),
    _K.TAX: ((_A.ON_HOLD, -1),),
    _K.ADJUSTMENT: ((_A.AVAILABLE, 0),),
    _K.CLAWBACK: ((_A.AVAILABLE, -1),),
    _K.BONUS: ((_A.AVAILABLE, 1),),
}

# Kinds whose debit may leave `available` negative (carried forward).
MAY_GO_NEGATIVE = frozenset({_K.CLAWBACK, _K.ADJUSTMENT})


@dataclass(frozen=True)
class Posting:
    account: Account
    amount: Decimal


@dataclass(frozen=True)
class Balances:
    """One promoter's accounts in one currency."""

    available: Decimal = ZERO
    on_hold: Decimal = ZERO
    paid: Decimal = ZERO

    def of(self, account: Account) -> Decimal:
        return getattr(self, account.value)

    def with_amount(self, account: Account, amount: Decimal) -> Balances:
        return replace(self, **{account.value: amount})

    @property
    def withdrawable(self) -> Decimal:
        """What a withdrawal may take: nothing while a negative balance is carried forward."""
        return max(self.available, ZERO)

    @property
    def carried_forward(self) -> Decimal:
        """The negative part of `available` (clawbacks later earnings will offset), as ≥ 0."""
        return -self.available if self.available < 0 else ZERO


@dataclass(frozen=True)
class PostedLine:
    """A posting with the account's balance right after it."""

    account: Account
    amount: Decimal
    balance_after: Decimal


def _invalid(message: str, **fields: str) -> ValidationFailed:
    return ValidationFailed(message, code="invalid_movement", fields=fields)


def _kind(raw: str) -> MovementKind:
    try:
        return MovementKind(raw)
    except ValueError:
        raise _invalid("unknown movement kind", kind=raw) from None


def _posting(account: str, amount: Decimal, currency: str) -> Posting:
    try:
        parsed_account = Account(account)
    except ValueError:
        raise _invalid("unknown account", account=account) from None
    try:
        value = Decimal(amount)
    except (InvalidOperation, TypeError, ValueError):
        raise _invalid("not a decimal amount", amount=str(amount)) from None
    if not value.is_finite() or value == 0 or abs(value) > MAX_AMOUNT:
        raise _invalid("a posting must be a non-zero finite amount", amount=str(amount))
    quantum = Decimal(1).scaleb(-min(exponent(currency), 2))
    if value != value.quantize(quantum):
        raise _invalid(f"too many decimals for {currency}", amount=str(amount))
    return Posting(parsed_account, value.quantize(STORAGE_QUANTUM))


def validate_movement(
    kind: str, postings: Iterable[tuple[str, Decimal]], currency: str
) -> tuple[MovementKind, tuple[Posting, ...]]:
    """The movement's kind and postings (debit first) if they follow its shape."""
    movement = _kind(kind)
    parsed = [_posting(account, amount, currency) for account, amount in postings]
    shape = MOVEMENT_SHAPES[movement]
    by_account = {p.account: p for p in parsed}
    if len(by_account) != len(parsed) or set(by_account) != {a for a, _ in shape}:
        raise _invalid(
            f"a {movement.value} posts to {', '.join(a.value for a, _ in shape)} exactly once",
            kind=movement.value,
        )
    ordered = tuple(by_account[account] for account, _ in shape)
    for (account, sign), posting in zip(shape, ordered, strict=True):
        if sign and (posting.amount > 0) != (sign > 0):
            direction = "credit" if sign > 0 else "debit"
            raise _invalid(f"a {movement.value} must {direction} {account.value}", kind=kind)
    if len(ordered) == 2 and sum(p.amount for p in ordered) != 0:
        raise _invalid(f"the postings of a {movement.value} must net to zero", kind=kind)
    return movement, ordered


def apply_postings(
    balances: Balances, kind: MovementKind, postings: Sequence[Posting]
) -> tuple[Balances, list[PostedLine]]:
    """Balances after the postings and each posting's balance_after."""
    lines: list[PostedLine] = []
    current = balances
    for posting in postings:
        after = current.of(posting.account) + posting.amount
        if posting.amount < 0 and after < 0 and kind not in MAY_GO_NEGATIVE:
            raise Conflict(
                f"not enough {posting.account.value} balance",
                code="insufficient_balance",
                fields={
                    "account": posting.account.value,
                    "balance": str(current.of(posting.account)),
                    "amount": str(-posting.amount),
                },
            )
        current = current.with_amount(posting.account, after)
        lines.append(PostedLine(posting.account, posting.amount, after))
    return current, lines


def clawback_amount(*, settled_amount: Decimal, new_amount: Decimal) -> Decimal:
    """How much a refund takes back from a credited commission (0 if nothing)."""
    if new_amount < 0:
        raise ValidationFailed(
            "a commission cannot become negative",
            code="invalid_amount",
            fields={"new_amount": str(new_amount)},
        )
    return max(settled_amount - new_amount, ZERO)


# (promoter_id, currency, account)
BalanceKey = tuple[int, str, str]


@dataclass(frozen=True)
class Drift:
    """A (promoter, currency, account) whose entries, last balance_after and cache disagree."""

    promoter_id: int
    currency: str
    account: str
    entries_sum: Decimal
    last_balance_after: Decimal
    cached: Decimal

    def to_dict(self) -> dict[str, str | int]:
        return {
            "promoter_id": self.promoter_id,
            "currency": self.currency,
            "account": self.account,
            "entries_sum": str(self.entries_sum),
            "last_balance_after": str(self.last_balance_after),
            "cached": str(self.cached),
        }


def reconcile(
    entries_by_account_sums: Mapping[BalanceKey, Decimal],
    last_balance_after: Mapping[BalanceKey, Decimal],
    cached: Mapping[BalanceKey, Decimal],
) -> list[Drift]:
    """Every account whose entry sum, last balance_after and cached balance disagree."""
    keys = set(entries_by_account_sums) | set(last_balance_after) | set(cached)
    drifts = []
    for key in sorted(keys):
        total = Decimal(entries_by_account_sums.get(key, ZERO))
        last = Decimal(last_balance_after.get(key, ZERO))
        cache = Decimal(cached.get(key, ZERO))
        if not total == last == cache:
            promoter_id, currency, account = key
            drifts.append(Drift(promoter_id, currency, account, total, last, cache))
    return drifts


# --- Approving commissions -------------------------------------------------------------


def auto_approve_policy(raw: Mapping[str, object] | None) -> AutoApproveRules:
    """A program's stored auto_approve_rules; anything unreadable means staff review."""
    if not isinstance(raw, Mapping) or raw.get("enabled") is not True:
        return AutoApproveRules(enabled=False)
    limit = raw.get("max_line_amount")
    if limit is None:
        return AutoApproveRules(enabled=True)
    try:
        max_line_amount = Decimal(str(limit))
    except InvalidOperation:
        return AutoApproveRules(enabled=False)
    if not max_line_amount.is_finite() or max_line_amount <= 0:
        return AutoApproveRules(enabled=False)
    return AutoApproveRules(enabled=True, max_line_amount=max_line_amount)


REVIEW_ACTIONS = frozenset({"approve", "reject"})


def review_refusal(
    *,
    status: str,
    action: str,
    unlocked: bool,
    held: bool,
) -> str | None:
    """Why staff may not `action` a commission now (an error code), or None if they may."""
    if action not in REVIEW_ACTIONS:
        return "commission_unknown_action"
    try:
        COMMISSION_LIFECYCLE.target(CommissionStatus(status), action)
    except (IllegalTransition, ValueError):
        return "commission_illegal_transition"
    if action == "approve" and held:
        return "commission_held"
    # The freeze window exists for returns: nobody approves a commission inside it.
    if action == "approve" and not unlocked:
        return "commission_locked"
    return None
