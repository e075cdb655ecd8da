"""The events an endpoint may subscribe to and the documented JSON shape of each payload
(ids, the program, amounts as strings with their currency, UTC instants)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from server.domain.errors import ValidationFailed
from server.domain.money import money_text

PROMOTER_APPLIED = "promoter.applied"
PROMOTER_APPROVED = "promoter.approved"
PROMOTER_SUSPENDED = "promoter.suspended"
COMMISSION_CREATED = "commission.created"
COMMISSION_SETTLED = "commission.settled"
WITHDRAWAL_APPROVED = "withdrawal.approved"
WITHDRAWAL_PAID = "withdrawal.paid"
WITHDRAWAL_FAILED = "withdrawal.failed"
PAYOUT_BATCH_PAID = "payout_batch.paid"
ANOMALY_OPENED = "anomaly.opened"
DISPUTE_OPENED = "dispute.opened"

EVENT_TYPES: tuple[str, ...] = (
    PROMOTER_APPLIED,
    PROMOTER_APPROVED,
    PROMOTER_SUSPENDED,
    COMMISSION_CREATED,
    COMMISSION_SETTLED,
    WITHDRAWAL_APPROVED,
    WITHDRAWAL_PAID,
    WITHDRAWAL_FAILED,
    PAYOUT_BATCH_PAID,
    ANOMALY_OPENED,
    DISPUTE_OPENED,
)

# The life-cycle actions (promoters' and withdrawals' transition tables) that are events.
PROMOTER_ACTION_EVENTS: Mapping[str, str] = {
    "apply": PROMOTER_APPLIED,
    "approve": PROMOTER_APPROVED,
    "suspend": PROMOTER_SUSPENDED,
}
WITHDRAWAL_STATUS_EVENTS: Mapping[str, str] = {
    "approved": WITHDRAWAL_APPROVED,
    "paid": WITHDRAWAL_PAID,
    "failed": WITHDRAWAL_FAILED,
}


def check_event_types(wanted: Iterable[str]) -> list[str]:
    """The subscribed event types, known and deduplicated in the documented order."""
    wanted = list(wanted)
    unknown = sorted(set(wanted) - set(EVENT_TYPES))
    if unknown or not wanted:
        raise ValidationFailed(
            "unknown or missing event types",
            code="invalid_event_types",
            fields={"event_types": f"one or more of {', '.join(EVENT_TYPES)}"},
        )
    return [event_type for event_type in EVENT_TYPES if event_type in wanted]


def utc_text(moment: datetime | None) -> str | None:
    """An instant as ISO 8601 in UTC with a Z, or None."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _money(amount: Decimal | None, currency: str) -> str | None:
    return None if amount is None else money_text(Decimal(amount), currency)


def envelope(event_type: str, *, data: Mapping[str, Any], at: datetime) -> dict[str, Any]:
    """The body every webhook carries (Standard Webhooks' type, timestamp and data)."""
    return {"type": event_type, "timestamp": utc_text(at), "data": dict(data)}


def promoter_data(promoter: Any) -> dict[str, Any]:
    """promoter.applied / approved / suspended."""
    return {
        "promoter_id": promoter.id,
        "program_id": promoter.program_id,
        "status": promoter.status,
        "parent_id": promoter.parent_id,
        "invite_code": promoter.invite_code,
    }


def commission_data(
    commission: Any,
    *,
    amount: Decimal | None = None,
    amount_now: Decimal | None = None,
    reason: str = "order_paid",
) -> dict[str, Any]:
    """commission.created (a clawback is one with a negative amount) and commission.settled.

    `amount` is the change the event reports, `amount_now` what the commission earns after it
    (both by default the commission's amount).
    """
    currency = commission.currency
    now = commission.amount if amount_now is None else amount_now
    return {
        "commission_id": commission.id,
        "program_id": commission.program_id,
        "promoter_id": commission.promoter_id,
        "order_id": commission.order_id,
        "level": commission.level,
        "status": commission.status,
        "reason": reason,
        "amount": _money(now if amount is None else amount, currency),
        "commission_amount": _money(now, currency),
        "currency": currency,
    }


def withdrawal_data(withdrawal: Any) -> dict[str, Any]:
    """withdrawal.approved / paid / failed."""
    currency = withdrawal.currency
    return {
        "withdrawal_id": withdrawal.id,
        "program_id": withdrawal.program_id,
        "promoter_id": withdrawal.promoter_id,
        "status": withdrawal.status,
        "method": withdrawal.method,
        "amount": _money(withdrawal.amount, currency),
        "fee": _money(withdrawal.fee, currency),
        "tax": _money(withdrawal.tax, currency),
        "net": _money(withdrawal.net, currency),
        "currency": currency,
        "payout_batch_id": withdrawal.batch_id,
        "failure_code": withdrawal.failure_code,
        "paid_at": utc_text(withdrawal.paid_at),
    }


def payout_batch_data(batch: Any) -> dict[str, Any]:
    """payout_batch.paid: every payout of the batch has ended, at least one of them paid."""
    return {
        "payout_batch_id": batch.id,
        "program_id": batch.program_id,
        "trigger": batch.trigger,
        "withdrawal_count": batch.withdrawal_count,
        "total_amount": _money(batch.total_amount, batch.currency),
        "currency": batch.currency,
        "paid_at": utc_text(batch.paid_at),
    }


def anomaly_data(anomaly: Any) -> dict[str, Any]:
    """anomaly.opened."""
    return {
        "anomaly_id": anomaly.id,
        "program_id": anomaly.program_id,
        "kind": anomaly.kind,
        "subject_kind": anomaly.subject_kind,
        "subject_id": anomaly.subject_id,
        "promoter_id": anomaly.promoter_id,
        "score": anomaly.score,
        "source": anomaly.source,
    }


def dispute_data(dispute: Any) -> dict[str, Any]:
    """dispute.opened."""
    return {
        "dispute_id": dispute.id,
        "program_id": dispute.program_id,
        "promoter_id": dispute.promoter_id,
        "subject_kind": dispute.subject_kind,
        "commission_id": dispute.commission_id,
        "external_order_id": dispute.external_order_id,
        "status": dispute.status,
    }
