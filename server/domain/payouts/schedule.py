"""Payout rules: when a program's schedule pays whom, and which commissions a payout covers.

Schedule (PayoutSchedule):
- manual: the job never creates a batch; finance creates one by hand (every promoter whose
  withdrawable balance reaches the withdrawal minimum);
- monthly on day D: one batch per calendar month, created on the first run on or after day D
  (a job that was down on the day still pays that month), for balances ≥ the minimum;
- threshold T: one batch per day, for balances ≥ max(T, minimum).

Allocation: a payout of gross G covers, oldest first, what the promoter was credited and not
yet paid. Every source has a remaining amount (credited minus what live payouts already
cover). A negative remaining amount is a carry-forward (a clawback after the money was paid
out): it is netted first, so the positive sources covered add up to G plus the carried
amounts. Coverage of the last source may be partial. The items always add up to G exactly;
if the traceable sources cannot cover G (balances posted without a commission, for example)
the rest is one `unattributed` item, never a silently short lineage.
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
    """The items a payout of `gross` covers (see the module docstring); sources oldest first."""
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
