"""The program leaderboard: promoters ranked by their own net sales this month; a promoter who
opts out is never shown. Promoters see names masked; staff see who each one is."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from server.domain.masking import mask_name
from server.domain.periods import Period, period_bounds, zone
from server.domain.promoters.status import PromoterStatus
from server.models import Program, Promoter
from server.services.programs.settings import get_program
from server.services.promoters.team import own_promoter
from server.services.tiers.results import own_results

LEADERBOARD_SIZE = 20


async def _ranking(
    program: Program, now: datetime
) -> tuple[datetime, datetime, list[tuple[Decimal, int]], dict[int, dict[str, Any]]]:
    """This month's bounds, the shown promoters' (net sales, id) best first, and their rows."""
    start, end = period_bounds(now, Period.MONTH, zone(program.time_zone))
    results = await own_results(program_id=program.id, start=start, end=min(end, now))
    shown = {
        row["id"]: row
        for row in await Promoter.filter(
            id__in=list(results),
            status=PromoterStatus.APPROVED.value,
            leaderboard_opt_out=False,
        ).values("id", "real_name", "tier")
    }
    ranked = sorted(
        ((r.net_sales, pid) for pid, r in results.items() if pid in shown and r.net_sales > 0),
        key=lambda item: (-item[0], item[1]),
    )
    return start, end, ranked, shown


async def leaderboard(
    *, user_id: int, program_id: int, now: datetime, size: int = LEADERBOARD_SIZE
) -> dict[str, Any]:
    """This month's top promoters by own net sales (opted-out ones left out), and my place."""
    me = await own_promoter(user_id=user_id, program_id=program_id)
    program = await Program.get(id=program_id)
    start, end, ranked, shown = await _ranking(program, now)
    places = {pid: index + 1 for index, (_net, pid) in enumerate(ranked)}
    return {
        "period": {"start": start, "end": end},
        "currency": program.currency,
        "items": [
            {
                "rank": places[pid],
                "name": mask_name(shown[pid]["real_name"]),
                "tier": shown[pid]["tier"],
                "net_sales": str(net),
                "me": pid == me.id,
            }
            for net, pid in ranked[:size]
        ],
        "me": {
            "opted_out": me.leaderboard_opt_out,
            "rank": places.get(me.id),
        },
    }


async def staff_leaderboard(
    *, program_id: int, now: datetime, size: int = LEADERBOARD_SIZE
) -> dict[str, Any]:
    """The leaderboard promoters see, as staff see it: the same ranks (opted-out promoters
    left out), with each promoter's id and full name, whether the program shows it, and how
    many promoters opted out."""
    program = await get_program(program_id=program_id)
    start, end, ranked, shown = await _ranking(program, now)
    return {
        "period": {"start": start, "end": end},
        "currency": program.currency,
        "enabled": program.leaderboard_enabled,
        "opted_out": await Promoter.filter(program_id=program_id, leaderboard_opt_out=True).count(),
        "items": [
            {
                "rank": index + 1,
                "promoter_id": pid,
                "name": shown[pid]["real_name"],
                "tier": shown[pid]["tier"],
                "net_sales": str(net),
            }
            for index, (net, pid) in enumerate(ranked[:size])
        ],
    }


async def set_leaderboard_opt_out(
    *, user_id: int, program_id: int, opt_out: bool
) -> dict[str, Any]:
    """Leave the leaderboard (or join it again); takes effect on the next read."""
    me = await own_promoter(user_id=user_id, program_id=program_id)
    if me.leaderboard_opt_out != opt_out:
        me.leaderboard_opt_out = opt_out
        await me.save(update_fields=["leaderboard_opt_out"])
    return {"promoter_id": me.id, "opted_out": me.leaderboard_opt_out}
