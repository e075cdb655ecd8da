"""Per-program fraud thresholds: every number a detector compares against, with its default.

Each one's meaning and default is tabled in docs/design/fraud.md.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from server.domain.errors import ValidationFailed

MAX_THRESHOLD = 1_000_000
PERCENT_FIELDS = frozenset(
    {"bot_share_percent", "quick_order_share_percent", "refund_rate_percent"}
)
BOUNDS: dict[str, tuple[int, int]] = {
    "scan_window_hours": (1, 24 * 31),
    "history_days": (1, 365),
    "hierarchy_max_depth": (1, 10),
    "min_dwell_seconds": (1, 3600),
    "quick_order_seconds": (1, 86400),
    "velocity_multiplier": (2, 1000),
    "code_rate_multiplier": (2, 1000),
    "promoters_per_buyer": (2, MAX_THRESHOLD),
    "codes_per_buyer": (2, MAX_THRESHOLD),
}


@dataclass(frozen=True, kw_only=True)
class FraudThresholds:
    """Every fraud threshold of a program (meanings in docs/design/fraud.md)."""

    scan_window_hours: int = 24
    history_days: int = 28
    visits_per_ip: int = 200
    visits_per_device: int = 60
    max_visits_per_minute: int = 20
    min_rate_visits: int = 30
    bot_share_percent: int = 30
    min_bot_visits: int = 20
    min_dwell_seconds: int = 3
    codes_per_buyer: int = 3
    code_rate_multiplier: int = 5
    min_code_uses: int = 20
    orders_per_buyer: int = 5
    promoters_per_buyer: int = 3
    orders_per_address: int = 6
    orders_per_device: int = 5
    quick_order_seconds: int = 60
    quick_order_share_percent: int = 50
    min_quick_orders: int = 5
    refund_rate_percent: int = 40
    min_orders_for_refund_rate: int = 10
    velocity_multiplier: int = 5
    min_orders_for_velocity: int = 10
    hierarchy_max_depth: int = 3


THRESHOLD_KEYS: tuple[str, ...] = tuple(f.name for f in fields(FraudThresholds))


def threshold_errors(thresholds: FraudThresholds, *, prefix: str = "") -> dict[str, str]:
    """Every threshold out of its bounds, keyed by `prefix` + its name."""
    errors: dict[str, str] = {}
    for name in THRESHOLD_KEYS:
        value = getattr(thresholds, name)
        if isinstance(value, bool) or not isinstance(value, int):
            errors[prefix + name] = "must be an integer"
            continue
        low, high = (1, 100) if name in PERCENT_FIELDS else BOUNDS.get(name, (1, MAX_THRESHOLD))
        if not low <= value <= high:
            errors[prefix + name] = f"must be between {low} and {high}"
    return errors


def validate_thresholds(thresholds: FraudThresholds) -> None:
    """Raise ValidationFailed(invalid_fraud_thresholds) naming every bad threshold."""
    errors = threshold_errors(thresholds)
    if errors:
        raise ValidationFailed(
            "invalid fraud thresholds", code="invalid_fraud_thresholds", fields=errors
        )


def stored_thresholds(raw: object) -> FraudThresholds:
    """A program's stored thresholds read leniently: an unusable value takes its default."""
    defaults = FraudThresholds()
    if not isinstance(raw, dict):
        return defaults
    values: dict[str, int] = {}
    for name in THRESHOLD_KEYS:
        value = raw.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            values[name] = value
    candidate = FraudThresholds(**values)
    if not threshold_errors(candidate):
        return candidate
    usable = {
        name: value
        for name, value in values.items()
        if not threshold_errors(FraudThresholds(**{name: value}))
    }
    return FraudThresholds(**usable)
