"""Per-program fraud thresholds: every number a detector compares against, with its default.

All thresholds are whole numbers (counts, seconds, hours, days, percents or multipliers), so
the document form is plain JSON integers. Defaults are chosen so that ordinary behaviour
never fires: a family sharing one home Wi-Fi stays far below the per-IP visit count, a
customer who reads the page for a few seconds is not "no dwell", and a promoter whose volume
grows week on week stays below the spike multiplier.

| threshold | default | fires when |
|---|---|---|
| scan_window_hours | 24 | (scope) the scans look at the last N hours |
| history_days | 28 | (scope) days before the window the velocity and code-rate baselines use |
| visits_per_ip | 200 | one hashed IP sends ≥ N visits to one promoter in the window |
| visits_per_device | 60 | one hashed device sends ≥ N visits to one promoter in the window |
| max_visits_per_minute | 20 | one device or IP averages ≥ N visits a minute ... |
| min_rate_visits | 30 | ... over at least N visits |
| bot_share_percent | 30 | ≥ N % of a promoter's visits come from known bot user agents ... |
| min_bot_visits | 20 | ... and at least N of them are bots |
| min_dwell_seconds | 3 | an order converts < N seconds after the visit that bound its buyer |
| codes_per_buyer | 3 | one buyer redeems ≥ N distinct referral codes in the window |
| code_rate_multiplier | 5 | a code is used ≥ N × its usual rate ... |
| min_code_uses | 20 | ... and at least N times in the window |
| orders_per_buyer | 5 | one buyer places ≥ N attributed orders in the window ... |
| promoters_per_buyer | 3 | ... spread over ≥ N different promoters (so are address, device) |
| orders_per_address | 6 | one hashed shipping address gets ≥ N attributed orders in the window |
| orders_per_device | 5 | one hashed device places ≥ N attributed orders in the window |
| quick_order_seconds | 60 | an order < N seconds after its binding is quick |
| quick_order_share_percent | 50 | ≥ N % of a promoter's window orders are quick ... |
| min_quick_orders | 5 | ... and at least N of them are |
| refund_rate_percent | 40 | ≥ N % of a promoter's window orders were refunded ... |
| min_orders_for_refund_rate | 10 | ... out of at least N orders |
| velocity_multiplier | 5 | a promoter's window orders are ≥ N × their usual count ... |
| min_orders_for_velocity | 10 | ... and at least N orders |
| hierarchy_max_depth | 3 | an upline up to N levels above shares an identity signal |
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
    """Every fraud threshold of a program (the module docstring says what each one means)."""

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
    """A program's stored thresholds document read leniently (as the jobs read settings):
    a missing or unusable value takes its default, so a scan never stops on old data."""
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
