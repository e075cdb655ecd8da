"""The background jobs. Each body is a thin call into a service, the same one HTTP could call;
both runners (Celery and in-process) execute these bodies, so they behave identically."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from types import MappingProxyType
from typing import Any

from server import clock
from server.config import Settings
from server.domain.errors import NotFound
from server.services.access.signed_requests import purge_expired_nonces
from server.services.commissions.settlement import BATCH_SIZE as SETTLEMENT_BATCH_SIZE
from server.services.commissions.settlement import approve_due_commissions, settle_due_commissions
from server.services.fraud.scans import scan_for_fraud
from server.services.ledger.balances import reconcile_balances
from server.services.operations.counts import LEDGER_RECONCILE_JOB
from server.services.operations.notifications import send_pending_notifications
from server.services.orders.completion import complete_due_orders
from server.services.orders.drainer import wake_running_drainer
from server.services.orders.inbox import (
    drain_order_events,
    purge_done_events,
    requeue_expired,
)
from server.services.payouts.batches import create_payout_batches
from server.services.payouts.withdrawal_payment import resolve_pending_transfers
from server.services.promoters.application_expiry import expire_stale_applications
from server.services.reports.rollups import refresh_reports
from server.services.tiers.bonuses import pay_milestone_bonuses
from server.services.tiers.evaluation import EVALUATE_EVERY, EVALUATE_JOB, evaluate_tiers
from server.services.webhooks.delivery import deliver_due_webhooks
from server.services.webhooks.outbox import complete_paid_batches

TASK_NAME_PREFIX = "fenxiao."

# (settings, **arguments) -> a JSON-serializable summary, stored on the JobRun row.
JobBody = Callable[..., Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Job:
    """A named job, its body and how often the beat schedule runs it."""

    name: str
    body: JobBody
    every: timedelta
    description: str

    @property
    def task_name(self) -> str:
        return TASK_NAME_PREFIX + self.name


async def run_application_expiry(settings: Settings) -> dict[str, Any]:
    """Expire applications left unreviewed longer than APPLICATION_EXPIRY_DAYS."""
    older_than = clock.now() - timedelta(days=settings.application_expiry_days)
    expired = await expire_stale_applications(older_than=older_than)
    return {"expired": expired, "older_than": older_than.isoformat()}


async def run_s2s_nonce_purge(settings: Settings) -> dict[str, Any]:
    """Forget S2S nonces whose request timestamp left the replay window."""
    older_than = clock.now() - timedelta(seconds=settings.s2s_replay_window_seconds)
    purged = await purge_expired_nonces(older_than=older_than)
    return {"purged": purged, "older_than": older_than.isoformat()}


async def run_order_auto_completion(settings: Settings) -> dict[str, Any]:
    """Complete paid orders of programs with auto_complete_days once those days have passed."""
    return await complete_due_orders(now=clock.now())


async def run_commission_approval(settings: Settings) -> dict[str, Any]:
    """Approve unlocked pending commissions where the program's auto-approve rules allow."""
    return await approve_due_commissions(now=clock.now())


async def run_commission_settlement(
    settings: Settings, batch_size: int = SETTLEMENT_BATCH_SIZE
) -> dict[str, Any]:
    """Credit approved, unlocked, unheld commissions to the promoters' balances."""
    return await settle_due_commissions(now=clock.now(), batch_size=batch_size)


async def run_ledger_reconcile(settings: Settings) -> dict[str, Any]:
    """Compare cached balances with the ledger entries; drift is logged and recorded."""
    return (await reconcile_balances()).to_dict()


async def run_fraud_scan(settings: Settings) -> dict[str, Any]:
    """Run the fraud scans over each program's recent window; findings become anomalies."""
    return await scan_for_fraud(until=clock.now())


async def run_notification_sending(settings: Settings) -> dict[str, Any]:
    """Send the queued WeChat subscribe messages that are due; failures retry later."""
    return await send_pending_notifications(settings=settings)


async def run_transfer_resolution(settings: Settings) -> dict[str, Any]:
    """Ask the payment provider how in-flight withdrawal transfers ended, and record it."""
    return await resolve_pending_transfers(settings=settings, now=clock.now())


async def run_payout_batches(settings: Settings) -> dict[str, Any]:
    """Create the payout batches the programs' schedules call for now."""
    return await create_payout_batches(now=clock.now())


async def run_tier_evaluation(settings: Settings) -> dict[str, Any]:
    """Re-evaluate every promoter's tier on their own results; record each change."""
    return await evaluate_tiers(now=clock.now())


async def run_milestone_bonuses(settings: Settings) -> dict[str, Any]:
    """Pay the milestone bonuses promoters reached, each exactly once, through the ledger."""
    return await pay_milestone_bonuses(now=clock.now())


async def run_webhook_delivery(settings: Settings) -> dict[str, Any]:
    """Send the due webhook deliveries of the outbox; failures retry with backoff."""
    batches = await complete_paid_batches(now=clock.now())
    return {**await deliver_due_webhooks(settings=settings), "batches_completed": batches}


# Events one run applies at most: the server workers' drainers do the bulk; this job catches
# up when none is running and takes back what a dead drainer left.
INBOX_EVENTS_PER_RUN = 1_000
# Applied inbox rows are kept this long (the outcome itself stays on the order event).
INBOX_RETENTION = timedelta(days=30)


async def run_inbox_drain(settings: Settings) -> dict[str, Any]:
    """Requeue what dead drainers left, then apply queued order events (or wake the drainer)."""
    requeued = await requeue_expired(now=clock.now())
    if wake_running_drainer():
        return {**requeued, "applied": 0, "woke_drainer": True}
    drained = await drain_order_events(max_events=INBOX_EVENTS_PER_RUN)
    return {**requeued, **drained}


async def run_inbox_purge(settings: Settings) -> dict[str, Any]:
    """Forget inbox rows applied longer ago than the retention."""
    older_than = clock.now() - INBOX_RETENTION
    return {"purged": await purge_done_events(older_than=older_than)}


async def run_report_refresh(settings: Settings) -> dict[str, Any]:
    """Recompute the report buckets writes marked since the last run."""
    return await refresh_reports()


JOBS: Mapping[str, Job] = MappingProxyType(
    {
        job.name: job
        for job in (
            Job(
                name="expire_stale_applications",
                body=run_application_expiry,
                every=timedelta(hours=1),
                description="Expire promoter applications nobody reviewed in time.",
            ),
            Job(
                name="purge_s2s_nonces",
                body=run_s2s_nonce_purge,
                every=timedelta(minutes=10),
                description="Forget spent S2S request nonces older than the replay window.",
            ),
            Job(
                name="complete_due_orders",
                body=run_order_auto_completion,
                every=timedelta(hours=1),
                description="Complete paid orders N days after payment (auto_complete_days).",
            ),
            Job(
                name="approve_due_commissions",
                body=run_commission_approval,
                every=timedelta(minutes=15),
                description="Auto-approve unlocked pending commissions by program rules.",
            ),
            Job(
                name="settle_due_commissions",
                body=run_commission_settlement,
                every=timedelta(minutes=15),
                description="Settle approved, unlocked, unheld commissions into balances.",
            ),
            Job(
                name=LEDGER_RECONCILE_JOB,
                body=run_ledger_reconcile,
                every=timedelta(hours=6),
                description="Check every cached balance against the ledger entries.",
            ),
            Job(
                name="scan_for_fraud",
                body=run_fraud_scan,
                every=timedelta(hours=1),
                description="Scan recent visits and orders for fraud; open anomalies, hold.",
            ),
            Job(
                name="send_notifications",
                body=run_notification_sending,
                every=timedelta(minutes=1),
                description="Send queued WeChat subscribe messages (withdrawal paid/rejected).",
            ),
            Job(
                name="resolve_pending_transfers",
                body=run_transfer_resolution,
                every=timedelta(minutes=5),
                description="Query the provider for withdrawal transfers whose outcome is open.",
            ),
            Job(
                name="drain_order_event_inbox",
                body=run_inbox_drain,
                every=timedelta(minutes=1),
                description="Apply order events accepted with Prefer: respond-async; requeue.",
            ),
            Job(
                name="purge_order_event_inbox",
                body=run_inbox_purge,
                every=timedelta(hours=1),
                description="Forget order event inbox rows applied over 30 days ago.",
            ),
            Job(
                name="refresh_reports",
                body=run_report_refresh,
                every=timedelta(seconds=30),
                description="Recompute the report rollups of buckets changed since the last run.",
            ),
            Job(
                name="create_payout_batches",
                body=run_payout_batches,
                every=timedelta(hours=1),
                description="Create payout batches per program schedule (monthly, threshold).",
            ),
            Job(
                name=EVALUATE_JOB,
                body=run_tier_evaluation,
                every=EVALUATE_EVERY,
                description="Re-evaluate promoter tiers on their own results; record changes.",
            ),
            Job(
                name="deliver_webhooks",
                body=run_webhook_delivery,
                every=timedelta(seconds=30),
                description="Send due outgoing webhooks; retry failures with backoff.",
            ),
            Job(
                name="pay_milestone_bonuses",
                body=run_milestone_bonuses,
                every=timedelta(minutes=15),
                description="Pay reached milestone bonuses through the ledger, once each.",
            ),
        )
    }
)


def get_job(name: str) -> Job:
    """The job called `name`, or a coded NotFound."""
    job = JOBS.get(name)
    if job is None:
        raise NotFound("no such job", code="job_not_found", fields={"name": name})
    return job
