"""Withdrawal rules: what a promoter may request, the fee and tax it bears, and its life cycle
(docs/design/payouts.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum
from typing import Any

from server.domain.commissions.rules import period_window
from server.domain.errors import Conflict, ValidationFailed
from server.domain.money import MAX_AMOUNT, exponent, money_text, read_decimal
from server.domain.programs.lawful import WECHAT_CURRENCY_ERROR, wechat_currency_problem
from server.domain.programs.settings import WithdrawalMethod, WithdrawalRules
from server.domain.state_machine import StateMachine

HUNDRED = Decimal(100)
MAX_REASON_LENGTH = 512


class WithdrawalStatus(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    PAYING = "paying"
    PAID = "paid"
    FAILED = "failed"
    RELEASED = "released"


class WithdrawalOrigin(StrEnum):
    REQUEST = "request"  # the promoter asked
    BATCH = "batch"  # the program's payout schedule


class TransferPhase(StrEnum):
    """Where the provider transfer of a `paying` withdrawal stands."""

    SENDING = "sending"  # claimed; the provider call may be under way right now
    PROCESSING = "processing"
    UNKNOWN = "unknown"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


_W = WithdrawalStatus

WITHDRAWAL_LIFECYCLE: StateMachine[WithdrawalStatus] = StateMachine(
    name="withdrawal",
    transitions={
        "approve": (frozenset({_W.REQUESTED}), _W.APPROVED),
        "reject": (frozenset({_W.REQUESTED, _W.APPROVED}), _W.REJECTED),
        "pay": (frozenset({_W.APPROVED}), _W.PAYING),
        "retry": (frozenset({_W.FAILED}), _W.PAYING),
        "succeed": (frozenset({_W.PAYING}), _W.PAID),
        "fail": (frozenset({_W.PAYING}), _W.FAILED),
        "release": (frozenset({_W.FAILED}), _W.RELEASED),
        "mark_paid": (frozenset({_W.APPROVED, _W.FAILED}), _W.PAID),
    },
)

# Withdrawals whose amount is (or was) really taken: they count towards the daily cap and
# keep the commissions they cover allocated.
LIVE_STATUSES = frozenset({_W.REQUESTED, _W.APPROVED, _W.PAYING, _W.FAILED, _W.PAID})
# Paid through a payment provider; the other methods are paid outside and marked paid.
PROVIDER_METHODS = frozenset({WithdrawalMethod.WECHAT.value})


@dataclass(frozen=True)
class Deductions:
    amount: Decimal
    fee: Decimal
    tax: Decimal
    # How fee and tax were reached (rates, exact figures, rounding): stored with the withdrawal.
    explanation: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def net(self) -> Decimal:
        return self.amount - self.fee - self.tax


@dataclass(frozen=True)
class WithdrawalAsk:
    """What a promoter asks for, as received."""

    amount: str
    method: str
    currency: str | None = None


def _refused(message: str, code: str, **fields: str) -> ValidationFailed:
    return ValidationFailed(message, code=code, fields=fields)


def parse_withdrawal_amount(raw: str, currency: str) -> Decimal:
    """A positive amount with no more decimals than `currency` has (withdrawal_invalid_amount)."""
    value = read_decimal(raw)
    if value is None:
        raise _refused("not a decimal amount", "withdrawal_invalid_amount", amount="not a number")
    if value <= 0 or value > MAX_AMOUNT:
        raise _refused("amount out of range", "withdrawal_invalid_amount", amount="out of range")
    quantum = Decimal(1).scaleb(-exponent(currency))
    if value != value.quantize(quantum, rounding=ROUND_DOWN):
        raise _refused(
            f"too many decimals for {currency}",
            "withdrawal_invalid_amount",
            amount=f"at most {exponent(currency)} decimals",
        )
    return value.quantize(Decimal("0.01"))


def _shown(value: Decimal, places: int) -> str:
    return str(value.quantize(Decimal(1).scaleb(-places)))


def deductions(amount: Decimal, rules: WithdrawalRules, currency: str) -> Deductions:
    """Fee and tax of a withdrawal of `amount`, each rounded down once to the minor unit."""
    places = exponent(currency)
    quantum = Decimal(1).scaleb(-places)
    exact_fee = rules.fee_fixed + amount * rules.fee_percent / HUNDRED
    exact_tax = amount * rules.tax_withholding_percent / HUNDRED
    fee = exact_fee.quantize(quantum, rounding=ROUND_DOWN)
    tax = exact_tax.quantize(quantum, rounding=ROUND_DOWN)
    explanation = {
        "base": _shown(amount, places),
        "fee": {
            "fixed": _shown(rules.fee_fixed, places),
            "percent": format(rules.fee_percent.normalize(), "f"),
            "exact": format(exact_fee.normalize(), "f"),
            "amount": _shown(fee, places),
        },
        "tax": {
            "withholding_percent": format(rules.tax_withholding_percent.normalize(), "f"),
            "exact": format(exact_tax.normalize(), "f"),
            "amount": _shown(tax, places),
        },
        "rounding": f"each rounded down once to {places} decimals",
        "net": _shown(amount - fee - tax, places),
    }
    two = Decimal("0.01")
    return Deductions(
        amount=amount, fee=fee.quantize(two), tax=tax.quantize(two), explanation=explanation
    )


def day_bounds(at: datetime, tz: tzinfo) -> tuple[datetime, datetime]:
    """The start and end of the program's day containing `at`."""
    window = period_window("day", at, tz)
    return window.start, window.end


def check_withdrawal(
    ask: WithdrawalAsk,
    *,
    rules: WithdrawalRules,
    program_currency: str,
    withdrawable: Decimal,
    requested_today: Decimal,
) -> Deductions:
    """The deductions of an acceptable request; otherwise the coded refusal."""
    if ask.currency is not None and ask.currency != program_currency:
        raise _refused(
            f"this program pays in {program_currency}",
            "currency_mismatch",
            currency=f"must be {program_currency}",
        )
    if problem := wechat_currency_problem(program_currency, [ask.method]):
        raise _refused(problem, WECHAT_CURRENCY_ERROR, method=problem)
    if ask.method not in rules.methods:
        raise _refused(
            "the program does not pay by this method",
            "withdrawal_method_not_allowed",
            method="one of " + ", ".join(rules.methods),
        )
    amount = parse_withdrawal_amount(ask.amount, program_currency)
    if amount < rules.minimum:
        raise _refused(
            "below the program's minimum withdrawal",
            "withdrawal_below_minimum",
            amount=f"at least {money_text(rules.minimum, program_currency)}",
        )
    if amount > withdrawable:
        raise Conflict(
            "more than your available balance",
            code="withdrawal_exceeds_available",
            fields={"amount": f"at most {money_text(withdrawable, program_currency)}"},
        )
    if rules.daily_cap is not None and requested_today + amount > rules.daily_cap:
        room = max(rules.daily_cap - requested_today, Decimal(0))
        raise Conflict(
            "over the program's daily withdrawal cap",
            code="withdrawal_daily_cap_exceeded",
            fields={"amount": f"at most {money_text(room, program_currency)} more today"},
        )
    cut = deductions(amount, rules, program_currency)
    if cut.net <= 0:
        raise _refused(
            "fees and tax would take the whole amount",
            "withdrawal_net_not_positive",
            amount="too small to pay anything after fees and tax",
        )
    return cut


def check_reason(reason: str | None, *, field: str = "reason") -> str:
    """A non-blank reason of at most MAX_REASON_LENGTH characters."""
    text = (reason or "").strip()
    if not text:
        raise _refused("a reason is required", "reason_required", **{field: "required"})
    if len(text) > MAX_REASON_LENGTH:
        raise _refused(
            "the reason is too long", "reason_too_long", **{field: f"at most {MAX_REASON_LENGTH}"}
        )
    return text


def transfer_bill_number(withdrawal_id: int, attempt: int) -> str:
    """Our transfer number for one attempt: new only after a definite failure."""
    # Providers answer a reused number with the old bill, so it stays stable while the
    # outcome is uncertain.
    return f"FXW{withdrawal_id:012d}A{attempt:03d}"


def mask_account_number(number: str | None) -> str | None:
    """'6222021234567890' → '************7890'."""
    if not number:
        return None
    return "*" * max(len(number) - 4, 0) + number[-4:]


def fingerprint_fields(
    *, amount: Decimal, method: str, account: Iterable[tuple[str, str | None]]
) -> str:
    """The request as a canonical text, so a replayed idempotency key can be compared."""
    parts = [f"amount={amount}", f"method={method}"]
    parts.extend(f"{key}={value or ''}" for key, value in sorted(account))
    return "&".join(parts)
