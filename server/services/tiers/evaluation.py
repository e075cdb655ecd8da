"""The tier job: re-evaluate every promoter's tier on their own results and record each
promotion and demotion with the figures that justified it."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from tortoise.transactions import in_transaction

from server.domain.instants import utc
from server.domain.periods import zone
from server.domain.promoters.status import PromoterStatus
from server.domain.tiers.ladder import OwnResults, Tier, change_kind, earned_tier, rolling_window
from server.models import Program, Promoter, PromoterTierChange, PromoterTierRecord
from server.services.tiers.config import load_tiers
from server.services.tiers.results import NO_RESULTS, own_results

log = logging.getLogger("fenxiao.tiers")

EVALUATE_JOB = "evaluate_tiers"
EVALUATE_EVERY = timedelta(hours=6)
_CHUNK = 500


class TierFigures:
    """The program's tiers, their windows and every promoter's own results in each."""

    def __init__(
        self,
        tiers: Sequence[Tier],
        windows: dict[int, tuple[datetime, datetime]],
        results: dict[int, dict[int, OwnResults]],
    ) -> None:
        self.tiers = list(tiers)
        self.windows = windows
        self.results = results

    def of(self, promoter_id: int) -> dict[str, OwnResults]:
        """One promoter's results in each tier's window, by tier code."""
        return {
            tier.code: self.results[tier.period_days].get(promoter_id, NO_RESULTS)
            for tier in self.tiers
        }

    def explain(self, promoter_id: int, *, before: str, after: str) -> dict[str, Any]:
        """The figures a change is recorded with: each tier's window, requirement and result."""
        mine = self.of(promoter_id)
        return {
            "rule": "the highest-ranked tier whose conditions the own results all meet",
            "from": before,
            "to": after,
            "tiers": [
                {
                    "code": tier.code,
                    "rank": tier.rank,
                    "window": {
                        "start": self.windows[tier.period_days][0].isoformat(),
                        "end": self.windows[tier.period_days][1].isoformat(),
                        "period_days": tier.period_days,
                    },
                    "requires": {k: str(v) for k, v in tier.requirements().items()},
                    "results": mine[tier.code].to_dict(),
                }
                for tier in self.tiers
            ],
        }


async def tier_figures(
    *, program: Program, now: datetime, promoter_id: int | None = None
) -> TierFigures:
    """The program's enabled tiers and own results in their windows ending `now`."""
    tiers = await load_tiers(program_id=program.id)
    tz = zone(program.time_zone)
    windows = {days: rolling_window(now, days, tz) for days in {t.period_days for t in tiers}}
    results = {
        days: await own_results(
            program_id=program.id, start=start, end=end, promoter_id=promoter_id
        )
        for days, (start, end) in windows.items()
    }
    return TierFigures(tiers, windows, results)


async def _apply_change(
    *, promoter_id: int, before: str, after: str, figures: TierFigures, now: datetime
) -> bool:
    """Move one promoter from `before` to `after` unless staff or another run got there first."""
    async with in_transaction() as conn:
        promoter = await Promoter.filter(id=promoter_id).using_db(conn).select_for_update().first()
        if promoter is None or promoter.tier_locked or promoter.tier != before:
            return False
        promoter.tier = after
        promoter.tier_evaluated_at = now
        await promoter.save(using_db=conn, update_fields=["tier", "tier_evaluated_at"])
        await PromoterTierChange.create(
            program_id=promoter.program_id,  # type: ignore[attr-defined]
            promoter_id=promoter_id,
            from_tier=before,
            to_tier=after,
            kind=change_kind(figures.tiers, before, after),
            source="job",
            figures=figures.explain(promoter_id, before=before, after=after),
            at=now,
            using_db=conn,
        )
    return True


async def _unlocked_promoters(program_id: int, after: int) -> list[tuple[int, str]]:
    """The next batch of approved, unlocked promoters (id, tier) in id order."""
    rows = (
        await Promoter.filter(
            program_id=program_id,
            status=PromoterStatus.APPROVED.value,
            tier_locked=False,
            id__gt=after,
        )
        .order_by("id")
        .limit(_CHUNK)
        .values_list("id", "tier")
    )
    return [(int(promoter_id), str(tier)) for promoter_id, tier in rows]


async def evaluate_program_tiers(*, program: Program, now: datetime) -> dict[str, int]:
    """Re-evaluate the unlocked approved promoters of one program; counts of what moved."""
    figures = await tier_figures(program=program, now=now)
    evaluated = promoted = demoted = 0
    after = 0
    while batch := await _unlocked_promoters(program.id, after):
        for promoter_id, current in batch:
            target = earned_tier(figures.tiers, figures.of(promoter_id))
            if target != current and await _apply_change(
                promoter_id=promoter_id, before=current, after=target, figures=figures, now=now
            ):
                if change_kind(figures.tiers, current, target) == "promotion":
                    promoted += 1
                else:
                    demoted += 1
        ids = [promoter_id for promoter_id, _tier in batch]
        await Promoter.filter(id__in=ids).update(tier_evaluated_at=now)
        evaluated += len(ids)
        after = ids[-1]
    return {"evaluated": evaluated, "promoted": promoted, "demoted": demoted}


async def evaluate_tiers(*, now: datetime) -> dict[str, Any]:
    """Re-evaluate tiers in every active program that has tiers or promoters still in one."""
    now = utc(now)
    with_tiers = set(await PromoterTierRecord.all().distinct().values_list("program_id", flat=True))
    in_a_tier = set(
        await Promoter.exclude(tier="default").distinct().values_list("program_id", flat=True)
    )
    by_program: dict[str, dict[str, int]] = {}
    for program in await Program.filter(id__in=sorted(with_tiers | in_a_tier), status="active"):
        by_program[str(program.id)] = await evaluate_program_tiers(program=program, now=now)
        log.info("tiers of program %s: %s", program.id, by_program[str(program.id)])
    return {
        "now": now.isoformat(),
        "promoted": sum(p["promoted"] for p in by_program.values()),
        "demoted": sum(p["demoted"] for p in by_program.values()),
        "by_program": by_program,
    }
