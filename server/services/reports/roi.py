"""Return on spend for internal programs: the window's totals and ROI per sub-account,
channel and campaign, from the same report queries as the dashboard and the API."""

from __future__ import annotations

from typing import Any

from server.models import Promoter
from server.services.reports import queries
from server.services.reports.queries import Window

# The dimensions spend is recorded by, in the order the page shows them.
ROI_DIMENSIONS = ("promoter", "channel", "utm_campaign")


async def roi_report(*, window: Window, limit: int = queries.MAX_ITEMS) -> dict[str, Any]:
    """Net sales, commissions, spend and ROI for the window, and by each spend dimension
    (a sub-account row carries its name)."""
    overview = await queries.overview(window=window, segment=queries.parse_segment(text=None))
    by = {
        name: (await queries.breakdown(window=window, dimension=name, limit=limit))["items"]
        for name in ROI_DIMENSIONS
    }
    ids = [int(item["value"]) for item in by["promoter"] if str(item["value"]).isdigit()]
    names = dict(await Promoter.filter(id__in=ids).values_list("id", "real_name"))
    for item in by["promoter"]:
        item["name"] = names.get(int(item["value"])) if str(item["value"]).isdigit() else None
    return {**window.describe(), "totals": overview["totals"], "by": by}
