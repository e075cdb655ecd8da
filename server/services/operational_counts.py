"""Counts for operational dashboards (the /metrics scrape), read without locking anything."""

from __future__ import annotations

from tortoise.functions import Count

from server.models import Commission


async def commissions_by_status() -> dict[str, int]:
    """How many commissions are in each status right now."""
    rows = (
        await Commission.all()
        .group_by("status")
        .annotate(total=Count("id"))
        .values("status", "total")
    )
    return {row["status"]: int(row["total"]) for row in rows}
