"""Money: Decimal amounts with an explicit ISO-4217 currency, rounded down to the minor unit."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal, InvalidOperation

from server.domain.errors import ValidationFailed

# Minor-unit exponents of the currencies we accept (ISO 4217).
CURRENCY_EXPONENTS: dict[str, int] = {
    "CNY": 2,
    "HKD": 2,
    "TWD": 2,
    "MOP": 2,
    "USD": 2,
    "EUR": 2,
    "GBP": 2,
    "SGD": 2,
    "AUD": 2,
    "CAD": 2,
    "MYR": 2,
    "THB": 2,
    "JPY": 0,
    "KRW": 0,
    "VND": 0,
}

# DECIMAL(18,2) holds 16 integer digits; refuse anything that could not be stored.
MAX_AMOUNT = Decimal("9999999999999999.99")


# Digits either side of the point a client's number may have. Past it, abs(), quantize() and
# arithmetic overflow the decimal context ("1e999999999" raises Overflow, not a coded error).
MAX_DECIMAL_MAGNITUDE = 30


def read_decimal(raw: object) -> Decimal | None:
    """`raw` (text or a number) as a finite Decimal of sane magnitude, or None."""
    try:
        value = Decimal(str(raw).strip())
    except (InvalidOperation, ValueError):
        return None
    if not value.is_finite():
        return None
    if value and not -MAX_DECIMAL_MAGNITUDE <= value.adjusted() <= MAX_DECIMAL_MAGNITUDE:
        return None
    return value


def exponent(currency: str) -> int:
    """Minor-unit exponent of `currency`; raises for an unknown code."""
    try:
        return CURRENCY_EXPONENTS[currency]
    except KeyError:
        raise ValidationFailed(
            f"unknown currency {currency!r}",
            code="unknown_currency",
            fields={"currency": "must be an ISO-4217 code we support"},
        ) from None


def round_down(amount: Decimal, currency: str) -> Decimal:
    """Round toward zero to the currency's minor unit (never overpay)."""
    quantum = Decimal(1).scaleb(-exponent(currency))
    return amount.quantize(quantum, rounding=ROUND_DOWN)


def money_text(amount: Decimal, currency: str) -> str:
    """An amount as shown everywhere (JSON, CSV, statements): exactly the currency's
    minor-unit digits, '12.30' in CNY and '1500' in JPY (storage keeps cents for every one)."""
    places = CURRENCY_EXPONENTS.get(currency)
    if places is None:
        return format(amount, "f")
    return str(Decimal(amount).quantize(Decimal(1).scaleb(-places), rounding=ROUND_DOWN))


def optional_money_text(amount: Decimal | None, currency: str) -> str | None:
    """`money_text`, or None for no amount."""
    return None if amount is None else money_text(amount, currency)


def parse_amount(raw: str | int | Decimal, currency: str, *, field: str = "amount") -> Decimal:
    """A non-negative amount with no more precision than the currency allows."""
    value = read_decimal(raw)
    if value is None:
        raise ValidationFailed(
            "not a decimal amount", code="invalid_amount", fields={field: "not a number"}
        )
    if value < 0 or value > MAX_AMOUNT:
        raise ValidationFailed(
            "amount out of range", code="invalid_amount", fields={field: "out of range"}
        )
    if value != round_down(value, currency):
        raise ValidationFailed(
            f"too many decimals for {currency}",
            code="invalid_amount",
            fields={field: f"at most {exponent(currency)} decimals"},
        )
    return value


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        exponent(self.currency)

    def to_dict(self) -> dict[str, str]:
        return {"amount": str(self.amount), "currency": self.currency}
