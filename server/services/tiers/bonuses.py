"""Milestone bonuses paid through the ledger exactly once per bonus and promoter, under
replays and concurrent runs: the bonus row is locked, the award is unique per (bonus,
promoter) and the ledger reference is unique too."""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from server.domain.instants import utc
from server.domain.ledger.postings import Account, MovementKind
from server.domain.pagination import check_page_limit, next_cursor
from server.domain.promoters.status import PromoterStatus
from server.domain.tiers.rewards import (
    AWARD_GRACE,
    MilestoneBonus,
    award_explanation,
    award_refusal,
)
from server.models import BonusAward, MilestoneBonusRecord, Program, Promoter
from server.services.ledger.postings import post_movement
from server.services.tiers.incentive_config import BONUSES, to_domain_bonus
from server.services.tiers.results import own_results

log = logging.getLogger("fenxiao.bonuses")


async def _award(*, bonus_id: int, promoter_id: int, net_sales: Decimal, now: datetime) -> bool:
    """Pay one award in one transaction; False when it was paid already or is not due now."""
    try:
        async with in_transaction() as conn:
            # Every payer of this bonus queues here, so `awarded_count` and the check below
            # see what the previous one committed.
            record = (
                await MilestoneBonusRecord.filter(id=bonus_id)
                .using_db(conn)
                .select_for_update()
                .first()
            )
            if record is None or not record.enabled:
                return False
            bonus = to_domain_bonus(record)
            if (
                await BonusAward.filter(bonus_id=bonus_id, promoter_id=promoter_id)
                .using_db(conn)
                .exists()
            ):
                return False
            promoter = await Promoter.filter(id=promoter_id).using_db(conn).first()
            if promoter is None or promoter.status != PromoterStatus.APPROVED.value:
                return False
            if award_refusal(
                bonus, net_sales=net_sales, tier=promoter.tier, awarded_count=record.awarded_count
            ):
                return False
            program = await Program.get(id=bonus.program_id, using_db=conn)
            explanation = award_explanation(bonus, net_sales=net_sales, tier=promoter.tier, now=now)
            reference = bonus.reference(promoter_id)
            await BonusAward.create(
                bonus_id=bonus_id,
                promoter_id=promoter_id,
                program_id=bonus.program_id,
                currency=program.currency,
                amount=bonus.amount,
                explanation=explanation,
                ledger_reference=reference,
                awarded_at=now,
                using_db=conn,
            )
            await post_movement(
                conn=conn,
                promoter_id=promoter_id,
                program_id=bonus.program_id,
                currency=program.currency,
                kind=MovementKind.BONUS.value,
                postings=[(Account.AVAILABLE.value, bonus.amount)],
                reference=reference,
                memo=f"milestone bonus {bonus.id}: {bonus.name}"[:255],
            )
            record.awarded_count += 1
            await record.save(using_db=conn, update_fields=["awarded_count", "updated_at"])
    except IntegrityError:
        # Another run inserted the same award between our check and our insert: theirs stands.
        return False
    return True


async def _pay_bonus(bonus: MilestoneBonus, now: datetime) -> int:
    results = await own_results(
        program_id=bonus.program_id, start=bonus.starts_at, end=bonus.ends_at
    )
    reached = sorted(
        ((r.net_sales, pid) for pid, r in results.items() if r.net_sales >= bonus.target_net_sales),
        key=lambda item: (-item[0], item[1]),
    )
    paid_already = set(
        await BonusAward.filter(bonus_id=bonus.id).values_list("promoter_id", flat=True)
    )
    paid = 0
    for net_sales, promoter_id in reached:
        if promoter_id in paid_already:
            continue
        if await _award(bonus_id=bonus.id, promoter_id=promoter_id, net_sales=net_sales, now=now):
            paid += 1
    return paid


async def pay_milestone_bonuses(*, now: datetime) -> dict[str, Any]:
    """Pay every milestone bonus now due (replays and concurrent runs pay nothing twice)."""
    now = utc(now)
    records = await MilestoneBonusRecord.filter(
        enabled=True, starts_at__lte=now, ends_at__gt=now - AWARD_GRACE
    ).order_by("id")
    by_bonus: dict[str, int] = {}
    for record in records:
        paid = await _pay_bonus(to_domain_bonus(record), now)
        if paid:
            by_bonus[str(record.id)] = paid
            log.info("milestone bonus %s: %s awards", record.id, paid)
    return {"now": now.isoformat(), "awarded": sum(by_bonus.values()), "by_bonus": by_bonus}


def serialize_award(award: BonusAward) -> dict[str, Any]:
    return {
        "id": award.id,
        "bonus_id": award.bonus_id,  # type: ignore[attr-defined]
        "promoter_id": award.promoter_id,  # type: ignore[attr-defined]
        "currency": award.currency,
        "amount": str(award.amount),
        "explanation": award.explanation,
        "ledger_reference": award.ledger_reference,
        "awarded_at": award.awarded_at,
    }


async def list_awards(*, bonus_id: int, cursor: int | None, limit: int) -> dict[str, Any]:
    """A page of a bonus's awards in id order."""
    check_page_limit(limit)
    if not await MilestoneBonusRecord.exists(id=bonus_id):
        raise BONUSES.not_found()
    query = BonusAward.filter(bonus_id=bonus_id)
    if cursor is not None:
        query = query.filter(id__gt=cursor)
    awards = await query.order_by("id").limit(limit)
    return {
        "items": [serialize_award(a) for a in awards],
        "next_cursor": next_cursor([a.id for a in awards], limit),
    }
