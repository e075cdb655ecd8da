"""Room under a beneficiary's day/month earnings caps, consumed as an order's lines earn."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from server.domain.commissions.inputs import ChainMember, OrderSnapshot, ProgramTerms
from server.domain.commissions.rules import (
    PeriodCap,
    PeriodWindow,
    period_window,
    select_period_caps,
)

# What each promoter earned in a cap's period before this order, by (promoter_id, window.key).
PeriodEarned = Mapping[tuple[int, str], Decimal]


def period_caps_of(
    member: ChainMember,
    *,
    order: OrderSnapshot,
    terms: ProgramTerms,
    period_caps: Sequence[PeriodCap],
) -> list[tuple[PeriodCap, PeriodWindow]]:
    """The caps covering a beneficiary, each with its period that holds the order's time."""
    chosen = select_period_caps(
        period_caps, program_id=terms.program_id, promoter_id=member.promoter_id, tier=member.tier
    )
    return [(cap, period_window(cap.period, order.placed_at, terms.timezone)) for cap in chosen]


@dataclass
class PeriodLedger:
    """Room under each beneficiary's period caps, consumed as the order's lines earn.

    room = cap − earned in the period before this order − what this order's earlier lines
    gave, never below 0. Lines come in order and levels nearest first, so the line that
    reaches a cap is clipped to the room left and later ones pay 0; each line stores the
    room it saw (`period_room`) so that a refund re-applies the same limit.
    """

    earned: PeriodEarned
    caps: dict[int, list[tuple[PeriodCap, PeriodWindow]]]
    consumed: dict[tuple[int, str], Decimal] = field(default_factory=lambda: defaultdict(Decimal))

    def room(self, promoter_id: int) -> tuple[Decimal | None, list[dict[str, Any]]]:
        rooms: list[Decimal] = []
        facts: list[dict[str, Any]] = []
        for cap, window in self.caps.get(promoter_id, []):
            key = (promoter_id, window.key)
            before = self.earned.get(key, Decimal(0)) + self.consumed[key]
            room = max(Decimal(0), cap.amount - before)
            rooms.append(room)
            facts.append(
                {
                    "cap_id": cap.id,
                    "period": window.key,
                    "limit": str(cap.amount),
                    "earned_before": str(before),
                    "room": str(room),
                }
            )
        return (min(rooms) if rooms else None), facts

    def consume(self, promoter_id: int, amount: Decimal) -> None:
        for _cap, window in self.caps.get(promoter_id, []):
            self.consumed[(promoter_id, window.key)] += amount
