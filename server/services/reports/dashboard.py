"""The promoter's own dashboard in the mini-program: my figures and their trend, my team by
level, my rank (when the program shows a leaderboard) and my referred customers, anonymized."""

from __future__ import annotations

from datetime import date
from typing import Any

from server import clock
from server.domain.masking import mask_name
from server.domain.pagination import check_page_limit, next_cursor
from server.domain.promoters.hierarchy import team_total
from server.domain.reports.metrics import as_json
from server.domain.reports.rollup import Dimension
from server.models import Binding, User, Visit
from server.services.promoters.hierarchy import team_counts
from server.services.promoters.team import own_promoter
from server.services.reports import cached
from server.services.reports.queries import Window, figures, report_window, series
from server.services.reports.reads import Segment


async def _rank(window: Window, promoter_id: int) -> dict[str, Any]:
    """My place by net sales among the program's promoters with figures in the range."""
    found = await cached.by_value(
        program_id=window.program.id,
        dimension=Dimension.PROMOTER,
        r=window.current,
        tz=window.tz,
    )
    ranked = sorted(found.items(), key=lambda item: (-item[1][0]["net_sales"], int(item[0])))
    place = next((i for i, (v, _) in enumerate(ranked, start=1) if v == str(promoter_id)), None)
    return {"by": "net_sales", "rank": place, "of": len(ranked)}


def _personal(body: dict[str, Any]) -> dict[str, Any]:
    """A figure set as a promoter sees it: no bots or spend, commissions as earnings."""
    hidden = {"bot_visits", "spend", "roi", "commission_cost_ratio"}
    kept = {key: value for key, value in body.items() if key not in hidden}
    kept["earnings"] = kept.pop("commissions")
    kept["earnings_by_status"] = kept.pop("commissions_by_status")
    return kept


async def my_dashboard(
    *, user_id: int, program_id: int, preset: str, first: date | None, last: date | None
) -> dict[str, Any]:
    """My figures beside the previous period, their trend, my team and rank (if enabled)."""
    me = await own_promoter(user_id=user_id, program_id=program_id)
    window = await report_window(program_id=program_id, preset=preset, first=first, last=last)
    segment = Segment(Dimension.PROMOTER, str(me.id))
    places = window.exponent
    current, before = await figures(
        program_id=program_id, segment=segment, ranges=window.periods, tz=window.tz
    )
    counts = await team_counts(promoter_id=me.id)
    return {
        **window.describe(),
        "promoter_id": me.id,
        "totals": _personal(as_json(current, exponent=places)),
        "previous_totals": _personal(as_json(before, exponent=places)),
        "trend": [_personal(point) for point in await series(window=window, segment=segment)],
        "team": {
            "levels": [{"depth": d, "members": n} for d, n in sorted(counts.items())],
            "total": team_total(counts),
        },
        "rank": await _rank(window, me.id) if window.program.leaderboard_enabled else None,
    }


def _customer_label(user: dict[str, Any] | None) -> str:
    return mask_name(user.get("nickname") if user else None)


async def my_referred_customers(
    *, user_id: int, program_id: int, cursor: int | None, limit: int
) -> dict[str, Any]:
    """The customers bound to me, newest first, masked, with their attribution context."""
    check_page_limit(limit)
    me = await own_promoter(user_id=user_id, program_id=program_id)
    query = Binding.filter(program_id=program_id, promoter_id=me.id)
    if cursor is not None:
        query = query.filter(id__lt=cursor)
    rows = (
        await query.order_by("-id")
        .limit(limit)
        .values(
            "id",
            "customer_user_id",
            "source",
            "reached_by",
            "channel_id",
            "visit_id",
            "bound_at",
            "expires_at",
            "ended_at",
            "end_reason",
        )
    )
    users = {
        u["id"]: u
        for u in await User.filter(
            id__in=[r["customer_user_id"] for r in rows if r["customer_user_id"]]
        ).values("id", "nickname")
    }
    visits = {
        v["id"]: v
        for v in await Visit.filter(id__in=[r["visit_id"] for r in rows if r["visit_id"]]).values(
            "id", "site_id", "utm_source", "utm_medium", "utm_campaign"
        )
    }
    now = clock.now()
    items = []
    for row in rows:
        visit = visits.get(row["visit_id"], {})
        expires = row["expires_at"]
        items.append(
            {
                "binding_id": row["id"],
                "customer": _customer_label(users.get(row["customer_user_id"])),
                "bound_at": row["bound_at"].isoformat(),
                "reached_by": row["reached_by"],
                "source": row["source"],
                "channel_id": row["channel_id"],
                "site_id": visit.get("site_id"),
                "utm_source": visit.get("utm_source"),
                "utm_medium": visit.get("utm_medium"),
                "utm_campaign": visit.get("utm_campaign"),
                "expires_at": expires.isoformat() if expires else None,
                "ended_at": row["ended_at"].isoformat() if row["ended_at"] else None,
                "end_reason": row["end_reason"],
                "active": row["ended_at"] is None and (expires is None or now < expires),
            }
        )
    return {"items": items, "next_cursor": next_cursor([r["id"] for r in rows], limit)}
