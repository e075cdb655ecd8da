"""Reading an order event's JSON body into domain events, checking every amount and
timestamp; sealing the buyer signals; and the canonical body hash idempotency compares.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from server.domain.errors import ValidationFailed
from server.domain.fraud.identity import device_key, hash_identifier
from server.domain.instants import utc
from server.domain.money import MAX_AMOUNT, exponent, round_down
from server.domain.orders.events import (
    MAX_ORDER_LINES,
    MAX_QUANTITY,
    Buyer,
    EventType,
    IncomingEvent,
    OrderCancelled,
    OrderChange,
    OrderCompleted,
    OrderPaid,
    OrderRefunded,
    PaidLine,
    RefundLine,
)

_DECIMAL_TEXT = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")
_HASH_TEXT = re.compile(r"^[0-9a-f]{64}$")
# The parts of a shipping address, most general first, and the longest each may be.
ADDRESS_PARTS: dict[str, int] = {"province": 64, "city": 64, "district": 64, "detail": 256}
MAX_DEVICE_ID_LENGTH = 128


def _invalid(code: str, message: str, field: str, problem: str) -> ValidationFailed:
    return ValidationFailed(message, code=code, fields={field: problem})


def _get(data: Mapping[str, Any], key: str, path: str, kind: type) -> Any:
    """A required field of the expected JSON type (True is not a number here)."""
    value = data.get(key)
    if value is None or not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        problem = "required" if value is None else f"must be a {kind.__name__}"
        raise _invalid("validation_failed", "the body does not match the schema", path, problem)
    return value


def parse_decimal_text(raw: Any, *, field: str) -> Decimal:
    """A non-negative decimal written as a string ("12.30"), at most MAX_AMOUNT."""
    if not isinstance(raw, str) or not _DECIMAL_TEXT.fullmatch(raw):
        raise _invalid(
            "invalid_amount", "amounts are decimal strings", field, 'a decimal string like "12.30"'
        )
    try:
        value = Decimal(raw)
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid decimals
        raise _invalid("invalid_amount", "not a decimal amount", field, "not a number") from None
    if value < 0 or value > MAX_AMOUNT:
        raise _invalid("invalid_amount", "amount out of range", field, "out of range")
    return value


def check_precision(value: Decimal, currency: str, *, field: str) -> Decimal:
    """`value` unchanged, or invalid_amount when it is finer than the currency's minor unit."""
    if value != round_down(value, currency):
        raise _invalid(
            "invalid_amount",
            f"too many decimals for {currency}",
            field,
            f"at most {exponent(currency)} decimals",
        )
    return value


def money_text(raw: Any, currency: str, *, field: str) -> Decimal:
    return check_precision(parse_decimal_text(raw, field=field), currency, field=field)


def parse_timestamp(raw: Any, *, field: str) -> datetime:
    """An ISO-8601 timestamp with an offset ("2026-03-01T12:00:00+08:00" or "…Z"), as the
    same instant in UTC (server/domain/instants.py)."""
    problem = "an ISO-8601 timestamp with a time zone"
    if not isinstance(raw, str):
        raise _invalid("invalid_timestamp", "invalid timestamp", field, problem)
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise _invalid("invalid_timestamp", "invalid timestamp", field, problem) from None
    if value.utcoffset() is None:
        raise _invalid("invalid_timestamp", "a timestamp needs a time zone", field, problem)
    return utc(value)


def _address_part(text: str) -> str:
    """One address part in one spelling: NFKC, case folded, no whitespace or punctuation."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(
        ch for ch in folded if not ch.isspace() and not unicodedata.category(ch).startswith("P")
    )


def address_key(raw: Any) -> str:
    """The normalized text a shipping address is hashed as; 422 naming the field at fault."""
    field = "order.shipping_address"
    if not isinstance(raw, Mapping):
        raise _invalid("invalid_shipping_address", "invalid shipping address", field, "an object")
    for key in raw:
        if key not in ADDRESS_PARTS:
            raise _invalid(
                "invalid_shipping_address",
                "invalid shipping address",
                f"{field}.{key}",
                "unknown field; one of " + ", ".join(ADDRESS_PARTS),
            )
    parts = []
    for key, longest in ADDRESS_PARTS.items():
        value = raw.get(key)
        if value is None and key != "detail":
            parts.append("")
            continue
        if not isinstance(value, str) or not 1 <= len(value) <= longest:
            problem = "required" if value is None else f"a string of 1..{longest} characters"
            raise _invalid(
                "invalid_shipping_address", "invalid shipping address", f"{field}.{key}", problem
            )
        parts.append(_address_part(value))
    if not parts[-1]:
        raise _invalid(
            "invalid_shipping_address",
            "invalid shipping address",
            f"{field}.detail",
            "needs letters or digits",
        )
    return "addr:" + "|".join(parts)


def _device_id(raw: Any) -> str:
    if not isinstance(raw, str) or not 1 <= len(raw.strip()) <= MAX_DEVICE_ID_LENGTH:
        raise _invalid(
            "invalid_device_id",
            "invalid device id",
            "order.device_id",
            f"a string of 1..{MAX_DEVICE_ID_LENGTH} characters",
        )
    return raw.strip()


def seal_buyer_signals(payload: Mapping[str, Any], *, salt: str) -> dict[str, Any]:
    """An order.paid body with its shipping address and device id replaced by salted hashes."""
    # Absent or null values add nothing, so a body without them hashes as it always did.
    order = payload.get("order")
    if payload.get("type") != EventType.PAID.value or not isinstance(order, Mapping):
        return dict(payload)
    sealed = dict(order)
    address = sealed.pop("shipping_address", None)
    device = sealed.pop("device_id", None)
    if address is not None:
        sealed["address_hash"] = hash_identifier(address_key(address), salt=salt)
    if device is not None:
        sealed["device_hash"] = hash_identifier(device_key(_device_id(device)), salt=salt)
    return {**payload, "order": sealed}


def _signal_hash(order: Mapping[str, Any], key: str) -> str | None:
    value = order.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not _HASH_TEXT.fullmatch(value):
        raise _invalid("validation_failed", "invalid hash", f"order.{key}", "a SHA-256 hex digest")
    return value


def _paid_line(index: int, data: Mapping[str, Any], currency: str) -> PaidLine:
    prefix = f"order.lines.{index}."
    quantity = _get(data, "quantity", prefix + "quantity", int)
    if not 1 <= quantity <= MAX_QUANTITY:
        raise _invalid(
            "invalid_order_line", "invalid quantity", prefix + "quantity", f"1..{MAX_QUANTITY}"
        )
    unit_price = money_text(data.get("unit_price"), currency, field=prefix + "unit_price")
    amount = money_text(data.get("amount"), currency, field=prefix + "amount")
    if amount > quantity * unit_price:
        raise ValidationFailed(
            "a line amount is above quantity × unit price",
            code="line_amount_mismatch",
            fields={prefix + "amount": f"at most {quantity * unit_price}"},
        )
    return PaidLine(
        line_ref=_get(data, "line_ref", prefix + "line_ref", str),
        product_id=_get(data, "product_id", prefix + "product_id", str),
        category=data.get("category"),
        quantity=quantity,
        unit_price=unit_price,
        amount=amount,
    )


def _parse_paid(order: Mapping[str, Any]) -> OrderPaid:
    currency = _get(order, "currency", "order.currency", str)
    try:
        exponent(currency)
    except ValidationFailed as exc:
        problem = "an ISO-4217 code we support"
        raise _invalid(exc.code, exc.message, "order.currency", problem) from None
    raw_lines = _get(order, "lines", "order.lines", list)
    if not 1 <= len(raw_lines) <= MAX_ORDER_LINES:
        raise _invalid(
            "invalid_order", "invalid order", "order.lines", f"1..{MAX_ORDER_LINES} lines"
        )
    lines = tuple(_paid_line(i, line, currency) for i, line in enumerate(raw_lines))
    refs = [line.line_ref for line in lines]
    if len(set(refs)) != len(refs):
        raise _invalid(
            "duplicate_line_ref", "line refs must be unique", "order.lines", "duplicate line_ref"
        )
    total = sum((line.amount for line in lines), Decimal(0))
    if total > MAX_AMOUNT:
        raise _invalid("invalid_amount", "order total out of range", "order.lines", "too large")
    for raw in ("shipping_address", "device_id"):
        if order.get(raw) is not None:
            raise _invalid(
                "validation_failed", "buyer signals must be sealed", f"order.{raw}", "unsealed"
            )
    buyer = order.get("buyer") or {}
    return OrderPaid(
        external_id=_get(order, "external_id", "order.external_id", str),
        currency=currency,
        placed_at=parse_timestamp(order.get("placed_at"), field="order.placed_at"),
        buyer=Buyer(
            openid=buyer.get("openid"),
            unionid=buyer.get("unionid"),
            external_id=buyer.get("external_id"),
        ),
        lines=lines,
        coupon_code=order.get("coupon_code"),
        site_id=order.get("site_id"),
        campaign=order.get("campaign"),
        address_hash=_signal_hash(order, "address_hash"),
        device_hash=_signal_hash(order, "device_hash"),
    )


def _parse_refunded(order: Mapping[str, Any]) -> OrderRefunded:
    raw_lines, raw_amount = order.get("lines"), order.get("amount")
    full = order.get("full") is True
    given = [
        name
        for name, on in (
            ("lines", raw_lines is not None),
            ("amount", raw_amount is not None),
            ("full", full),
        )
        if on
    ]
    if len(given) != 1:
        raise ValidationFailed(
            "a refund gives exactly one of lines, amount or full: true",
            code="invalid_refund",
            fields={"order": "exactly one of lines, amount, full"},
        )
    lines = None
    if raw_lines is not None:
        if not 1 <= len(raw_lines) <= MAX_ORDER_LINES:
            raise _invalid(
                "invalid_refund", "invalid refund", "order.lines", f"1..{MAX_ORDER_LINES} lines"
            )
        lines = tuple(
            RefundLine(
                line_ref=_get(line, "line_ref", f"order.lines.{i}.line_ref", str),
                amount=parse_decimal_text(line.get("amount"), field=f"order.lines.{i}.amount"),
            )
            for i, line in enumerate(raw_lines)
        )
    amount = None if raw_amount is None else parse_decimal_text(raw_amount, field="order.amount")
    return OrderRefunded(
        external_id=_get(order, "external_id", "order.external_id", str),
        refund_id=_get(order, "refund_id", "order.refund_id", str),
        lines=lines,
        amount=amount,
        full=full,
    )


def parse_event(payload: Mapping[str, Any]) -> IncomingEvent:
    """The event in a schema-validated `payload`, every amount and timestamp checked."""
    try:
        event_type = EventType(payload.get("type"))
    except ValueError:
        raise _invalid(
            "validation_failed",
            "unknown event type",
            "type",
            "one of " + ", ".join(t.value for t in EventType),
        ) from None
    order = _get(payload, "order", "order", dict)
    change: OrderChange
    if event_type == EventType.PAID:
        change = _parse_paid(order)
    elif event_type == EventType.REFUNDED:
        change = _parse_refunded(order)
    elif event_type == EventType.COMPLETED:
        change = OrderCompleted(
            external_id=_get(order, "external_id", "order.external_id", str),
            completed_at=parse_timestamp(order.get("completed_at"), field="order.completed_at"),
        )
    else:
        change = OrderCancelled(external_id=_get(order, "external_id", "order.external_id", str))
    return IncomingEvent(
        event_id=_get(payload, "event_id", "event_id", str),
        type=event_type,
        occurred_at=parse_timestamp(payload.get("occurred_at"), field="occurred_at"),
        order=change,
    )


def canonical_json(payload: Mapping[str, Any]) -> str:
    """The body in one spelling: keys sorted, no insignificant spaces, UTF-8 kept."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_sha256(canonical: str) -> str:
    """The digest of a body already in its canonical spelling (`canonical_json`)."""
    return hashlib.sha256(canonical.encode()).hexdigest()


def body_sha256(payload: Mapping[str, Any]) -> str:
    return canonical_sha256(canonical_json(payload))
