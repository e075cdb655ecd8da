"""A promoter's tier as staff assign it and as the promoter sees it: the tier, its benefits,
the progress towards the next one and when it is re-evaluated; and the tier history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tortoise.transactions import in_transaction

from server.auth import Principal
from server.domain.errors import NotFound, ValidationFailed
from server.domain.pagination import check_page_limit, next_cursor
from server.domain.tiers.ladder import DEFAULT_TIER, progress
from server.models import Program, Promoter, PromoterTierChange, PromoterTierRecord
from server.services.access.audit import record_action
from server.services.operations.jobs import last_job_run_started_at
from server.services.promoters.team import own_promoter
from server.services.tiers.evaluation import EVALUATE_EVERY, EVALUATE_JOB, tier_figures


def serialize_change(change: PromoterTierChange) -> dict[str, Any]:
    return {
        "id": change.id,
        "promoter_id": change.promoter_id,  # type: ignore[attr-defined]
        "from_tier": change.from_tier,
        "to_tier": change.to_tier,
        "kind": change.kind,
        "source": change.source,
        "locked": change.locked,
        "reason": change.reason,
        "actor_id": change.actor_id,
        "figures": change.figures,
        "at": change.at,
    }


async def assign_tier(
    *,
    promoter_id: int,
    tier: str,
    lock: bool,
    reason: str,
    actor: Principal,
    request_id: str | None = None,
    now: datetime,
) -> dict[str, Any]:
    """Put a promoter in a tier by hand (locked: the job leaves it); recorded and audited."""
    if not reason.strip():
        raise ValidationFailed(
            "say why", code="invalid_tier_assignment", fields={"reason": "required"}
        )
    async with in_transaction() as conn:
        promoter = await Promoter.filter(id=promoter_id).using_db(conn).select_for_update().first()
        if promoter is None:
            raise NotFound("no such promoter", code="promoter_not_found")
        program_id = promoter.program_id  # type: ignore[attr-defined]
        known = (
            await PromoterTierRecord.filter(program_id=program_id, code=tier, enabled=True)
            .using_db(conn)
            .exists()
        )
        if tier != DEFAULT_TIER and not known:
            raise ValidationFailed(
                "no such enabled tier in this program",
                code="invalid_tier_assignment",
                fields={"tier": "an enabled tier code of the program, or 'default'"},
            )
        before, was_locked = promoter.tier, promoter.tier_locked
        change = None
        if (before, was_locked) != (tier, lock):
            promoter.tier, promoter.tier_locked = tier, lock
            await promoter.save(using_db=conn, update_fields=["tier", "tier_locked"])
            change = await PromoterTierChange.create(
                program_id=program_id,
                promoter_id=promoter.id,
                from_tier=before,
                to_tier=tier,
                kind="assignment",
                source="staff",
                locked=lock,
                figures={"locked_before": was_locked, "locked": lock},
                reason=reason[:512],
                actor_id=actor.id,
                at=now,
                using_db=conn,
            )
            await record_action(
                actor=actor,
                action="promoter.tier_assign",
                target_kind="promoter",
                target_id=promoter.id,
                program_id=program_id,
                details={
                    "tier": {"before": before, "after": tier},
                    "locked": {"before": was_locked, "after": lock},
                    "reason": reason,
                },
                request_id=request_id,
                using_db=conn,
            )
    return {
        "promoter_id": promoter.id,
        "tier": promoter.tier,
        "tier_locked": promoter.tier_locked,
        "change": serialize_change(change) if change is not None else None,
    }


async def tier_history(
    *, promoter_id: int, cursor: int | None = None, limit: int = 50
) -> dict[str, Any]:
    """A page of a promoter's tier changes, newest first."""
    check_page_limit(limit)
    if not await Promoter.exists(id=promoter_id):
        raise NotFound("no such promoter", code="promoter_not_found")
    query = PromoterTierChange.filter(promoter_id=promoter_id)
    if cursor is not None:
        query = query.filter(id__lt=cursor)
    changes = await query.order_by("-id").limit(limit)
    return {
        "items": [serialize_change(change) for change in changes],
        "next_cursor": next_cursor([c.id for c in changes], limit),
    }


async def next_evaluation_at(now: datetime) -> datetime:
    """When the tier job runs next: one period after its last start (now if it never ran)."""
    last = await last_job_run_started_at(name=EVALUATE_JOB)
    return max(last + EVALUATE_EVERY, now) if last is not None else now


async def my_tier(*, user_id: int, program_id: int, now: datetime) -> dict[str, Any]:
    """The calling promoter's tier, its benefits, progress to the next and the schedule."""
    promoter = await own_promoter(user_id=user_id, program_id=program_id)
    program = await Program.get(id=program_id)
    figures = await tier_figures(program=program, now=now, promoter_id=promoter.id)
    mine = figures.of(promoter.id)
    current = next((t for t in figures.tiers if t.code == promoter.tier), None)
    recent = await PromoterTierChange.filter(promoter_id=promoter.id).order_by("-id").limit(5)
    return {
        "promoter_id": promoter.id,
        "tier": {
            "code": promoter.tier,
            "name": current.name if current is not None else promoter.tier,
            "rank": current.rank if current is not None else 0,
            "benefits": current.benefits.explanation() if current is not None else None,
        },
        "locked": promoter.tier_locked,
        "evaluated_at": promoter.tier_evaluated_at,
        "next_evaluation_at": await next_evaluation_at(now),
        "own_results": {code: results.to_dict() for code, results in mine.items()},
        "next": progress(figures.tiers, current=promoter.tier, results_by_tier=mine),
        "recent_changes": [
            {"from_tier": c.from_tier, "to_tier": c.to_tier, "kind": c.kind, "at": c.at}
            for c in recent
        ],
    }
