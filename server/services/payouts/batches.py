"""Payout batches: the program's schedule (or finance by hand) pays every eligible promoter,
one batch per period and one withdrawal per promoter (docs/design/payouts.md).
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from server import clock
from server.auth import Principal
from server.config import Settings
from server.domain.errors import Conflict, FenxiaoError, NotFound
from server.domain.payouts.schedule import BatchPlan, is_eligible, manual_batch, scheduled_batch
from server.domain.payouts.tax_profile import missing_tax_profile
from server.domain.payouts.withdrawals import (
    PROVIDER_METHODS,
    WithdrawalOrigin,
    WithdrawalStatus,
    deductions,
    fingerprint_fields,
)
from server.domain.programs.settings import ProgramSettings, WithdrawalMethod
from server.domain.promoters.agreements import agreement_accepted, required_version
from server.domain.promoters.status import PromoterStatus
from server.models import PayoutBatch, Program, Promoter, PromoterBalance, User, Withdrawal
from server.services.fraud.holds import held_promoter_ids
from server.services.payouts.queries import batch_detail, serialize_batch
from server.services.payouts.withdrawal_payment import pay_withdrawal
from server.services.payouts.withdrawals import PayeeAccount, create_held_withdrawal
from server.services.programs.settings import settings_of

log = logging.getLogger("fenxiao.payouts")

_METHOD_PREFERENCE = (
    WithdrawalMethod.WECHAT.value,
    WithdrawalMethod.OFFLINE.value,
    WithdrawalMethod.BANK.value,
)


def _method(settings: ProgramSettings) -> str:
    return next(m for m in _METHOD_PREFERENCE if m in settings.withdrawal_rules.methods)


async def _batch_for(program: Program, plan: BatchPlan, actor: Principal | None) -> PayoutBatch:
    """The period's batch, created if this is the first run of the period."""
    try:
        async with in_transaction() as conn:
            return await PayoutBatch.create(
                program_id=program.id,
                currency=program.currency,
                trigger=plan.trigger.value,
                period_key=plan.period_key,
                created_by=actor.id if actor else None,
                created_at=clock.now(),
                using_db=conn,
            )
    except IntegrityError:
        return await PayoutBatch.get(program_id=program.id, period_key=plan.period_key)


async def _pay_out_promoter(
    *,
    batch: PayoutBatch,
    promoter: Promoter,
    settings: ProgramSettings,
    plan: BatchPlan,
    actor: Principal | None,
) -> Withdrawal | None:
    """Put the promoter's withdrawable balance in the batch, if it still qualifies."""
    key = f"batch:{batch.id}"
    method = _method(settings)
    user = await User.get(id=promoter.user_id).only("id", "openid")  # type: ignore[attr-defined]
    async with in_transaction() as conn:
        # The balance lock first, as every request takes it (services/withdrawals.py).
        balance = (
            await PromoterBalance.filter(promoter_id=promoter.id, currency=batch.currency)
            .using_db(conn)
            .select_for_update()
            .first()
        )
        if balance is None:
            return None
        already = Withdrawal.filter(promoter_id=promoter.id, idempotency_key=key).using_db(conn)
        if await already.exists():
            return None
        withdrawable = max(balance.available, Decimal(0))
        if not is_eligible(withdrawable, plan):
            return None
        cut = deductions(withdrawable, settings.withdrawal_rules, batch.currency)
        if cut.net <= 0:
            return None
        return await create_held_withdrawal(
            conn,
            promoter=promoter,
            currency=batch.currency,
            cut=cut,
            method=method,
            openid=user.openid if method == WithdrawalMethod.WECHAT else None,
            account=PayeeAccount(),
            idempotency_key=key,
            fingerprint=fingerprint_fields(amount=cut.amount, method=method, account=[]),
            origin=WithdrawalOrigin.BATCH,
            status=WithdrawalStatus.APPROVED,
            actor=actor,
            batch_id=batch.id,
        )


async def _fill(
    program: Program,
    settings: ProgramSettings,
    plan: BatchPlan,
    *,
    actor: Principal | None,
    promoter_ids: list[int] | None = None,
) -> PayoutBatch | None:
    batch = await _batch_for(program, plan, actor)
    if batch.completed_at is not None:
        return None
    candidates = PromoterBalance.filter(
        program_id=program.id, currency=program.currency, available__gte=plan.min_balance
    )
    if promoter_ids is not None:
        candidates = candidates.filter(promoter_id__in=promoter_ids)
    eligible_ids = await candidates.order_by("promoter_id").values_list("promoter_id", flat=True)
    promoters = await Promoter.filter(
        id__in=list(eligible_ids), status=PromoterStatus.APPROVED.value
    ).order_by("id")
    # A promoter on fraud hold waits for staff; the batch names them instead of paying them.
    held = await held_promoter_ids(p.id for p in promoters)
    # A promoter who has not accepted the current agreement, or not given the tax profile the
    # program requires, is paid once they have.
    agreement = required_version(program.requirements)
    for promoter in promoters:
        if promoter.id in held or not agreement_accepted(agreement, promoter.agreement_version):
            continue
        rules = settings.withdrawal_rules
        if missing_tax_profile(rules, legal_name=promoter.legal_name, tax_id=promoter.tax_id):
            continue
        await _pay_out_promoter(
            batch=batch, promoter=promoter, settings=settings, plan=plan, actor=actor
        )
    members = await Withdrawal.filter(batch_id=batch.id).only("id", "amount")
    batch.withdrawal_count = len(members)
    batch.total_amount = sum((w.amount for w in members), Decimal(0))
    batch.held_promoter_ids = sorted(held)
    batch.completed_at = clock.now()
    await batch.save(
        update_fields=["withdrawal_count", "total_amount", "held_promoter_ids", "completed_at"]
    )
    return batch


async def create_payout_batches(*, now: datetime) -> dict[str, Any]:
    """Create the batches the programs' schedules call for now (the job)."""
    created: list[dict[str, Any]] = []
    for program in await Program.filter(status="active").order_by("id"):
        try:
            settings = settings_of(program)
        except FenxiaoError:
            log.error("program %s has unreadable settings: no payout batch", program.id)
            continue
        local_now = now.astimezone(ZoneInfo(settings.time_zone))
        plan = scheduled_batch(
            settings.payout_schedule, minimum=settings.withdrawal_rules.minimum, now=local_now
        )
        if plan is None:
            continue
        batch = await _fill(program, settings, plan, actor=None)
        if batch is not None:
            created.append(serialize_batch(batch))
    return {
        "batches": len(created),
        "withdrawals": sum(b["withdrawal_count"] for b in created),
        "held_promoters": sum(len(b["held_promoter_ids"]) for b in created),
        "batch_ids": [b["id"] for b in created],
        "now": now.isoformat(),
    }


async def create_manual_batch(
    *, program_id: int, actor: Principal, promoter_ids: list[int] | None = None
) -> dict[str, Any]:
    """Finance pays out now every (or each listed) promoter whose balance reaches the minimum."""
    program = await Program.filter(id=program_id).first()
    if program is None:
        raise NotFound("no such program", code="program_not_found")
    settings = settings_of(program)
    key = f"{clock.now():%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"
    plan = manual_batch(minimum=settings.withdrawal_rules.minimum, key=key)
    batch = await _fill(program, settings, plan, actor=actor, promoter_ids=promoter_ids)
    if batch is None:  # a fresh random key cannot name a finished batch; never half-report
        raise Conflict("this payout batch already exists", code="payout_batch_exists")
    return await batch_detail(batch_id=batch.id, viewer="finance")


async def pay_batch(*, batch_id: int, actor: Principal, settings: Settings) -> dict[str, Any]:
    """Send every approved provider-paid withdrawal of the batch; one outcome per withdrawal."""
    if not await PayoutBatch.filter(id=batch_id).exists():
        raise NotFound("no such payout batch", code="payout_batch_not_found")
    due = await Withdrawal.filter(
        batch_id=batch_id, status=WithdrawalStatus.APPROVED.value, method__in=PROVIDER_METHODS
    ).order_by("id")
    outcomes: list[dict[str, Any]] = []
    for withdrawal in due:
        try:
            paid = await pay_withdrawal(withdrawal_id=withdrawal.id, actor=actor, settings=settings)
            outcomes.append({"withdrawal_id": withdrawal.id, "status": paid["status"]})
        except FenxiaoError as exc:
            outcomes.append({"withdrawal_id": withdrawal.id, "error": exc.code})
    by_status: dict[str, int] = {}
    for outcome in outcomes:
        key = outcome.get("status") or "refused"
        by_status[key] = by_status.get(key, 0) + 1
    return {"batch_id": batch_id, "by_status": by_status, "withdrawals": outcomes}
