"""Counts for operational dashboards (the /metrics scrape), read without locking anything."""

from __future__ import annotations

from tortoise.functions import Count

from server.domain.orders.inbox import InboxStatus
from server.models import Commission, JobRun, QueuedOrderEvent

LEDGER_RECONCILE_JOB = "reconcile_ledger"


async def commissions_by_status() -> dict[str, int]:
    """How many commissions are in each status right now."""
    rows = (
        await Commission.all()
        .group_by("status")
        .annotate(total=Count("id"))
        .values("status", "total")
    )
    return {row["status"]: int(row["total"]) for row in rows}


async def queued_order_events_by_status() -> dict[str, int]:
    """How many inbox events are queued or processing now (done ones are not counted)."""
    waiting = (InboxStatus.QUEUED.value, InboxStatus.PROCESSING.value)
    rows = (
        await QueuedOrderEvent.filter(status__in=waiting)
        .group_by("status")
        .annotate(total=Count("id"))
        .values("status", "total")
    )
    return {status: 0 for status in waiting} | {row["status"]: int(row["total"]) for row in rows}


async def ledger_drift_found() -> dict[str, int]:
    """The accounts in drift found by the last completed ledger reconcile."""
    last = (
        await JobRun.filter(name=LEDGER_RECONCILE_JOB, status="succeeded")
        .order_by("-id")
        .only("id", "result")
        .first()
    )
    if last is None:
        return {}
    return {LEDGER_RECONCILE_JOB: int(last.result.get("drift_count", 0))}
