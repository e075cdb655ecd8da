"""What a detector reports: a Finding (kind, subject, score 0–100, evidence and the orders and
visits it concerns), the kinds and subjects, and the score scale every detector shares."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

MAX_SCORE = 100
# Findings keep at most this many linked visits (the evidence keeps the totals).
MAX_LINKED_VISITS = 50
# Longer details are fingerprinted by digest (the fingerprint column holds 255 characters).
MAX_DETAIL_LENGTH = 64


class AnomalyKind(StrEnum):
    SELF_REFERRAL = "self_referral"
    COUPON_OFF_SITE = "coupon_off_site"
    COUPON_MANY_CODES = "coupon_many_codes"
    COUPON_RATE_SPIKE = "coupon_rate_spike"
    CLICK_FLOOD = "click_flood"
    INHUMAN_VISIT_RATE = "inhuman_visit_rate"
    BOT_TRAFFIC = "bot_traffic"
    NO_DWELL = "no_dwell_conversion"
    REPEAT_BUYER = "repeat_buyer"
    ORDERS_ONE_ADDRESS = "orders_from_one_address"
    ORDERS_ONE_DEVICE = "orders_from_one_device"
    QUICK_ORDERS = "orders_right_after_binding"
    REFUND_RATE = "refund_rate"
    VELOCITY_SPIKE = "velocity_spike"
    HIERARCHY_SHARED_IDENTITY = "hierarchy_shared_identity"


class SubjectKind(StrEnum):
    PROMOTER = "promoter"
    ORDER = "order"
    VISIT = "visit"
    CODE = "code"
    # subject id: "user:<id>", "ext:<store's id>", "address:<hash>" or "device:<hash>"
    BUYER = "buyer"


@dataclass(frozen=True, kw_only=True)
class Finding:
    """One thing a detector found; an open anomaly holds the commissions of its `order_ids`.

    `detail` tells apart findings of one kind on one subject (e.g. which IP flooded).
    """

    kind: AnomalyKind
    subject_kind: SubjectKind
    subject_id: str
    score: int
    evidence: Mapping[str, Any]
    promoter_id: int | None = None
    detail: str = ""
    order_ids: tuple[int, ...] = ()
    visit_ids: tuple[int, ...] = ()
    promoter_ids: tuple[int, ...] = field(default=())

    def __post_init__(self) -> None:
        if not 0 <= self.score <= MAX_SCORE:
            raise ValueError(f"score {self.score} outside 0..{MAX_SCORE}")

    @property
    def fingerprint(self) -> str:
        """What makes two findings the same thing; a long detail is replaced by its digest."""
        detail = self.detail
        if len(detail) > MAX_DETAIL_LENGTH:
            detail = "sha256:" + hashlib.sha256(detail.encode()).hexdigest()
        return f"{self.kind.value}:{self.subject_kind.value}:{self.subject_id}:{detail}"


def ratio_score(value: float, threshold: float) -> int:
    """50 at the threshold, rising linearly to 100 at three times it (0 below it)."""
    if threshold <= 0 or value < threshold:
        return 0
    return min(MAX_SCORE, round(50 + 25 * (value / threshold - 1)))
