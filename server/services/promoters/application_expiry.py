"""Lapsing promoter applications nobody reviewed in time (run by the expiry job)."""

from __future__ import annotations

import logging
from datetime import datetime

from tortoise.transactions import in_transaction

from server import clock
from server.domain.errors import Conflict, ValidationFailed
from server.domain.promoters.status import PROMOTER_LIFECYCLE, PromoterStatus
from server.models import AuditLog, Promoter, PromoterStatusChange

log = logging.getLogger("fenxiao.jobs.expiry")

EXPIRE_ACTION = "expire"
AUDIT_ACTION = "promoter.expire"
EXPIRY_REASON = "application not reviewed in time"
MAX_BATCH_SIZE = 5000
# A batch whose rows change under it (possible on SQLite, which has no row locks) is
# rolled back and re-read; this many lost races in a row means something else is wrong.
MAX_RACED_BATCHES = 5


class _BatchRaced(Exception):
    """Some selected applications left `applied` before the batch could update them."""


async def _expire_one_batch(
    *, older_than: datetime, batch_size: int, source: PromoterStatus, target: PromoterStatus
) -> int:
    """Expire up to `batch_size` of the oldest stale applications in one transaction."""
    async with in_transaction() as conn:
        stale = (
            await Promoter.filter(status=source.value, applied_at__lt=older_than)
            .using_db(conn)
            .select_for_update()
            .order_by("id")
            .limit(batch_size)
            .only("id", "program_id", "applied_at")
        )
        if not stale:
            return 0
        now = clock.now()
        updated = (
            await Promoter.filter(id__in=[p.id for p in stale], status=source.value)
            .using_db(conn)
            .update(status=target.value, decided_at=now, updated_at=now)
        )
        if updated != len(stale):
            raise _BatchRaced
        await PromoterStatusChange.bulk_create(
            [
                PromoterStatusChange(
                    promoter_id=p.id,
                    from_status=source.value,
                    to_status=target.value,
                    action=EXPIRE_ACTION,
                    reason=EXPIRY_REASON,
                    actor_kind="system",
                    actor_id=None,
                    at=now,
                )
                for p in stale
            ],
            using_db=conn,
        )
        # One audit entry per promoter, written in bulk: the same rows
        # services.audit.record_action writes for a system actor, without a round trip each.
        await AuditLog.bulk_create(
            [
                AuditLog(
                    actor_kind="system",
                    actor_id=None,
                    action=AUDIT_ACTION,
                    target_kind="promoter",
                    target_id=p.id,
                    program_id=p.program_id,
                    details={
                        "from": source.value,
                        "to": target.value,
                        "applied_at": p.applied_at.isoformat(),
                        "older_than": older_than.isoformat(),
                    },
                    at=now,
                )
                for p in stale
            ],
            using_db=conn,
        )
    return len(stale)


async def expire_stale_applications(*, older_than: datetime, batch_size: int = 500) -> int:
    """Move applications still `applied` since before `older_than` to `expired`; return how many."""
    if older_than.tzinfo is None:
        raise ValidationFailed(
            "older_than must carry a timezone",
            code="naive_datetime",
            fields={"older_than": "naive"},
        )
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise ValidationFailed(
            "batch_size out of range",
            code="invalid_batch_size",
            fields={"batch_size": f"1..{MAX_BATCH_SIZE}"},
        )
    source = PromoterStatus.APPLIED
    target = PROMOTER_LIFECYCLE.target(source, EXPIRE_ACTION)
    total = 0
    raced = 0
    while True:
        try:
            expired = await _expire_one_batch(
                older_than=older_than, batch_size=batch_size, source=source, target=target
            )
        except _BatchRaced:
            raced += 1
            if raced >= MAX_RACED_BATCHES:
                raise Conflict(
                    "applications kept changing while they were being expired",
                    code="expiry_contended",
                ) from None
            continue
        raced = 0
        total += expired
        if expired < batch_size:
            break
    if total:
        log.info("expired %d stale promoter applications (applied before %s)", total, older_than)
    return total
