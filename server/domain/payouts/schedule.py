"""Payout rules: when a program's schedule pays whom, and which commissions a payout covers
(docs/design/payouts.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from server.domain.programs.settings import PayoutMode, PayoutSchedule

ZERO = Decimal("0.00")


class ItemKind(StrEnum):
    COMMISSION = "commission"  # a settled commission (or a negative carry-forward of one)
    ADJUSTMENT = "adjustment"  # a ledger adjustment entry
    UNATTRIBUTED = "unattributed"


class BatchTrigger(StrEnum):
    MANUAL = "manual"
    MONTHLY = "monthly"
    THRESHOLD = "threshold"


@dataclass(frozen=True)
class Source:
    """Something credited to the promoter: a commission or an adjustment entry."""

    kind: ItemKind
    id: int
    remaining: Decimal


@dataclass(frozen=True)
class Item:
    kind: ItemKind
    source_id: int | None
    amount: Decimal


@dataclass(frozen=True)
class BatchPlan:
    """A batch the schedule wants now: its idempotency key and the balance that qualifies."""

    trigger: BatchTrigger
    period_key: str
    min_balance: Decimal


def scheduled_batch(
    schedule: PayoutSchedule, *, minimum: Decimal, now: datetime
) -> BatchPlan | None:
    """The batch the schedule calls for at `now` (UTC days), or None."""
    if schedule.mode == PayoutMode.MONTHLY and schedule.day is not None:
        if now.day < schedule.day:
            return None
        return BatchPlan(BatchTrigger.MONTHLY, f"monthly:{now:%Y-%m}", minimum)
    if schedule.mode == PayoutMode.THRESHOLD and schedule.threshold is not None:
        return BatchPlan(
            BatchTrigger.THRESHOLD, f"threshold:{now:%Y-%m-%d}", max(schedule.threshold, minimum)
        )
    return None


def manual_batch(*, minimum: Decimal, key: str) -> BatchPlan:
    """A batch finance asks for now."""
    return BatchPlan(BatchTrigger.MANUAL, f"manual:{key}", minimum)


def is_eligible(withdrawable: Decimal, plan: BatchPlan) -> bool:
    """A promoter is in the batch when their withdrawable balance reaches the plan's bar."""
    return withdrawable > 0 and withdrawable >= plan.min_balance


def allocate(gross: Decimal, sources: Sequence[Source]) -> list[Item]:
    """The items a payout of `gross` covers (docs/design/payouts.md); sources oldest first."""
    if gross <= 0:
        raise ValueError("a payout covers a positive amount")
    items = [Item(s.kind, s.id, s.remaining) for s in sources if s.remaining < 0]
    to_cover = gross - sum((i.amount for i in items), ZERO)
    for source in sources:
        if to_cover <= 0:
            break
        if source.remaining <= 0:
            continue
        take = min(source.remaining, to_cover)
        items.append(Item(source.kind, source.id, take))
        to_cover -= take
    if to_cover > 0:
        items.append(Item(ItemKind.UNATTRIBUTED, None, to_cover))
    return items
