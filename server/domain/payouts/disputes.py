"""Disputes: a promoter's claim about a commission or an order that earned nothing, a thread
of messages, and a resolution by staff; the turn-taking life cycle is a transition table.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from server.domain.errors import ValidationFailed
from server.domain.state_machine import StateMachine

MAX_TEXT_LENGTH = 2000
MAX_REASON_LENGTH = 512
MAX_EXTERNAL_ORDER_ID = 64


class DisputeStatus(StrEnum):
    OPEN = "open"
    AWAITING_PROMOTER = "awaiting_promoter"
    RESOLVED_ACCEPTED = "resolved_accepted"
    RESOLVED_REJECTED = "resolved_rejected"


class SubjectKind(StrEnum):
    COMMISSION = "commission"
    MISSING_ORDER = "missing_order"


_S = DisputeStatus
_UNRESOLVED = frozenset({_S.OPEN, _S.AWAITING_PROMOTER})

DISPUTE_LIFECYCLE: StateMachine[DisputeStatus] = StateMachine(
    name="dispute",
    transitions={
        "staff_reply": (_UNRESOLVED, _S.AWAITING_PROMOTER),
        "promoter_reply": (_UNRESOLVED, _S.OPEN),
        "accept": (_UNRESOLVED, _S.RESOLVED_ACCEPTED),
        "reject": (_UNRESOLVED, _S.RESOLVED_REJECTED),
    },
)
UNRESOLVED_STATUSES = frozenset(s.value for s in _UNRESOLVED)


@dataclass(frozen=True)
class DisputeSubject:
    kind: SubjectKind
    commission_id: int | None
    external_order_id: str | None


def check_text(text: str | None, *, field: str = "text", limit: int = MAX_TEXT_LENGTH) -> str:
    """A message or reason: stripped, non-empty and at most `limit` characters."""
    cleaned = (text or "").strip()
    if not cleaned:
        raise ValidationFailed(
            f"{field} is required", code="text_required", fields={field: "required"}
        )
    if len(cleaned) > limit:
        raise ValidationFailed(
            f"{field} is too long", code="text_too_long", fields={field: f"at most {limit}"}
        )
    return cleaned


def dispute_subject(*, commission_id: int | None, external_order_id: str | None) -> DisputeSubject:
    """Exactly one subject: a commission id, or the external id of an order with no commission."""
    order_id = (external_order_id or "").strip() or None
    if (commission_id is None) == (order_id is None):
        raise ValidationFailed(
            "name either a commission or a missing order",
            code="invalid_dispute_subject",
            fields={"commission_id": "or external_order_id, exactly one"},
        )
    if order_id is not None and len(order_id) > MAX_EXTERNAL_ORDER_ID:
        raise ValidationFailed(
            "order id too long",
            code="invalid_dispute_subject",
            fields={"external_order_id": f"at most {MAX_EXTERNAL_ORDER_ID}"},
        )
    if commission_id is not None:
        return DisputeSubject(SubjectKind.COMMISSION, commission_id, None)
    return DisputeSubject(SubjectKind.MISSING_ORDER, None, order_id)
