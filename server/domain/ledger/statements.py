"""A promoter's statement for one calendar month, computed from the ledger alone.

The figures and how they reconcile are in docs/design/ledger.md.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from decimal import Decimal

from server.domain.errors import ValidationFailed
from server.domain.ledger.postings import Account, MovementKind
from server.domain.money import CURRENCY_EXPONENTS
from server.domain.periods import Period as CalendarPeriod
from server.domain.periods import period_bounds

ZERO = Decimal("0.00")
PERIOD_PATTERN = re.compile(r"^(\d{4})-(\d{2})$")

# (kind, account) -> the statement figure it counts in, with the sign that makes it ≥ 0.
_FIGURES: Mapping[tuple[str, str], tuple[str, int]] = {
    (MovementKind.SETTLE.value, Account.AVAILABLE.value): ("gross", 1),
    # A milestone bonus is earned like a commission: it counts in gross.
    (MovementKind.BONUS.value, Account.AVAILABLE.value): ("gross", 1),
    (MovementKind.CLAWBACK.value, Account.AVAILABLE.value): ("reversals", -1),
    (MovementKind.ADJUSTMENT.value, Account.AVAILABLE.value): ("adjustments", 1),
    (MovementKind.FEE.value, Account.ON_HOLD.value): ("fees", -1),
    (MovementKind.TAX.value, Account.ON_HOLD.value): ("tax_withheld", -1),
    (MovementKind.PAY.value, Account.PAID.value): ("paid_out", 1),
}
# Postings that only move money between the promoter's own accounts.
_INTERNAL = frozenset(
    {
        (MovementKind.HOLD.value, Account.AVAILABLE.value),
        (MovementKind.HOLD.value, Account.ON_HOLD.value),
        (MovementKind.RELEASE.value, Account.AVAILABLE.value),
        (MovementKind.RELEASE.value, Account.ON_HOLD.value),
        (MovementKind.PAY.value, Account.ON_HOLD.value),
    }
)

# (kind, account) -> sum of amounts
MovementSums = Mapping[tuple[str, str], Decimal]


@dataclass(frozen=True)
class Period:
    """A calendar month in a time zone, as half-open instants [start, end)."""

    label: str
    start: datetime
    end: datetime


def month_period(label: str, zone: tzinfo) -> Period:
    """The month `YYYY-MM` in `zone`; a coded 422 for anything else."""
    match = PERIOD_PATTERN.match(label or "")
    if not match or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 2000:
        raise ValidationFailed(
            "a period is a month, YYYY-MM", code="invalid_period", fields={"period": label}
        )
    year, month = int(match.group(1)), int(match.group(2))
    start, end = period_bounds(datetime(year, month, 1, tzinfo=zone), CalendarPeriod.MONTH, zone)
    return Period(label=label, start=start.astimezone(zone), end=end.astimezone(zone))


def shown(amount: Decimal, currency: str) -> Decimal:
    """An amount with exactly the currency's decimals (storage keeps cents for every one)."""
    return amount.quantize(Decimal(1).scaleb(-CURRENCY_EXPONENTS.get(currency, 2)))


@dataclass(frozen=True)
class AccountBalances:
    available: Decimal = ZERO
    on_hold: Decimal = ZERO
    paid: Decimal = ZERO

    @property
    def owed(self) -> Decimal:
        return self.available + self.on_hold

    def to_dict(self, currency: str) -> dict[str, Decimal]:
        return {
            "available": shown(self.available, currency),
            "on_hold": shown(self.on_hold, currency),
            "paid": shown(self.paid, currency),
            "owed": shown(self.owed, currency),
        }


@dataclass(frozen=True)
class StatementFigures:
    """One promoter's month (formulas in docs/design/ledger.md)."""

    currency: str
    opening: AccountBalances
    closing: AccountBalances
    gross: Decimal
    reversals: Decimal
    adjustments: Decimal
    fees: Decimal
    tax_withheld: Decimal
    paid_out: Decimal

    @property
    def net(self) -> Decimal:
        return self.gross - self.reversals + self.adjustments - self.fees - self.tax_withheld

    @property
    def reconciles(self) -> bool:
        return self.opening.owed + self.net - self.paid_out == self.closing.owed

    def to_dict(self) -> dict[str, object]:
        currency = self.currency
        return {
            "currency": currency,
            "opening": self.opening.to_dict(currency),
            "gross": shown(self.gross, currency),
            "reversals": shown(self.reversals, currency),
            "adjustments": shown(self.adjustments, currency),
            "fees": shown(self.fees, currency),
            "tax_withheld": shown(self.tax_withheld, currency),
            "net": shown(self.net, currency),
            "paid_out": shown(self.paid_out, currency),
            "closing": self.closing.to_dict(currency),
            "reconciles": self.reconciles,
        }


def balances_from(sums: MovementSums, start: AccountBalances | None = None) -> AccountBalances:
    """`start` plus every posting in `sums`, per account."""
    totals = {account.value: ZERO for account in Account}
    for (_, account), amount in sums.items():
        if account not in totals:
            raise ValueError(f"unknown account {account!r}")
        totals[account] += Decimal(amount)
    base = start or AccountBalances()
    return AccountBalances(
        available=base.available + totals[Account.AVAILABLE.value],
        on_hold=base.on_hold + totals[Account.ON_HOLD.value],
        paid=base.paid + totals[Account.PAID.value],
    )


def compute_statement(
    *, currency: str, before: MovementSums, during: MovementSums
) -> StatementFigures:
    """The statement figures from the entry sums before and during the period."""
    # A posting with no figure (a new movement kind) raises: a statement that silently leaves
    # money out is worse than none.
    figures = dict.fromkeys(
        ("gross", "reversals", "adjustments", "fees", "tax_withheld", "paid_out"), ZERO
    )
    for key, amount in during.items():
        if key in _INTERNAL:
            continue
        if key not in _FIGURES:
            raise ValueError(f"no statement figure for {key[0]} on {key[1]}")
        name, sign = _FIGURES[key]
        figures[name] += sign * Decimal(amount)
    opening = balances_from(before)
    closing = balances_from(during, opening)
    return StatementFigures(currency=currency, opening=opening, closing=closing, **figures)


def mask_tax_id(tax_id: str | None) -> str | None:
    """Keep the first two and last two characters: '110101199001011234' → '11**************34'."""
    if not tax_id:
        return None
    if len(tax_id) <= 4:
        return "*" * len(tax_id)
    return tax_id[:2] + "*" * (len(tax_id) - 4) + tax_id[-2:]
