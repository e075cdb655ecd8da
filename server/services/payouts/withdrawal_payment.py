"""Paying approved withdrawals: provider transfers, uncertain outcomes, offline payments.

Claim, transfer, record: never one transaction around a network call (docs/design/payouts.md).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from tortoise.expressions import F, Q
from tortoise.transactions import in_transaction

from server import clock
from server.auth import Principal
from server.config import Settings
from server.domain.errors import Conflict, FenxiaoError, ValidationFailed
from server.domain.money import money_text
from server.domain.payouts.withdrawals import (
    PROVIDER_METHODS,
    WITHDRAWAL_LIFECYCLE,
    TransferPhase,
    WithdrawalStatus,
    check_reason,
    transfer_bill_number,
)
from server.integrations.payments.base import (
    PaymentProvider,
    TransferRequest,
    TransferResult,
    TransferState,
)
from server.models import Withdrawal
from server.services.fraud.holds import refuse_if_held
from server.services.operations.notifications import (
    TEMPLATE_WITHDRAWAL_REJECTED,
    enqueue_notification,
)
from server.services.payouts.gateway import current_provider
from server.services.payouts.queries import serialize_withdrawal
from server.services.payouts.withdrawal_records import (
    lock_withdrawal,
    record_change,
    release_funds,
    settle_paid,
    withdrawal_not_found,
)

log = logging.getLogger("fenxiao.withdrawals")

MAX_REFERENCE_LENGTH = 128
RESOLVE_BATCH = 200


async def _claim(
    *, withdrawal_id: int, action: str, provider: PaymentProvider, actor: Principal
) -> Withdrawal:
    """Move the withdrawal to `paying` with a fresh transfer number, or refuse (409)."""
    current = await Withdrawal.filter(id=withdrawal_id).first()
    if current is None:
        raise withdrawal_not_found()
    if current.method not in PROVIDER_METHODS:
        raise Conflict(
            f"a {current.method} withdrawal is paid outside and marked paid",
            code="withdrawal_paid_manually",
            fields={"method": current.method},
        )
    WITHDRAWAL_LIFECYCLE.target(WithdrawalStatus(current.status), action)
    attempt = current.attempts + 1
    out_bill_no = transfer_bill_number(current.id, attempt)
    now = clock.now()
    async with in_transaction() as conn:
        claimed = (
            await Withdrawal.filter(
                id=withdrawal_id, status=current.status, attempts=current.attempts
            )
            .using_db(conn)
            .update(
                status=WithdrawalStatus.PAYING.value,
                transfer_phase=TransferPhase.SENDING.value,
                attempts=F("attempts") + 1,
                out_bill_no=out_bill_no,
                provider=provider.name,
                failure_code=None,
                failure_message=None,
                paid_by=actor.id,
                transfer_started_at=now,
                updated_at=now,
            )
        )
        if claimed != 1:
            raise Conflict(
                "another payment of this withdrawal got there first",
                code="withdrawal_payment_in_progress",
                fields={"withdrawal_id": withdrawal_id},
            )
        # Raised here, it undoes the claim: nothing is sent for a promoter on hold.
        await refuse_if_held(conn, current.promoter_id, what="paying a withdrawal")
        withdrawal = await lock_withdrawal(conn, withdrawal_id)
        await record_change(
            conn,
            withdrawal,
            action=action,
            from_status=current.status,
            actor=actor,
            details={"out_bill_no": out_bill_no, "provider": provider.name, "attempt": attempt},
        )
    return withdrawal


async def _transfer(provider: PaymentProvider, withdrawal: Withdrawal) -> TransferResult:
    request = TransferRequest(
        out_bill_no=withdrawal.out_bill_no or "",
        amount=withdrawal.net,
        currency=withdrawal.currency,
        openid=withdrawal.openid or "",
        description=f"Withdrawal {withdrawal.id}",
        real_name=withdrawal.real_name,
    )
    try:
        result = await provider.transfer(request)
    except Exception as exc:  # whatever happened, the money may have left
        log.exception("transfer %s raised; its outcome is unknown", request.out_bill_no)
        return TransferResult(
            TransferState.UNKNOWN, failure_code="provider_error", failure_message=str(exc)[:500]
        )
    if result.state == TransferState.NOT_FOUND:  # a query's answer, never a transfer's
        return replace(result, state=TransferState.UNKNOWN)
    return result


def transfer_grace(settings: Settings) -> timedelta:
    """How long after its send a transfer the provider has no record of is still unknown."""
    # WeChat Pay may record a request late: within this grace, NOT_FOUND is no failure, so no
    # retry under a new number can pay a second time. A `sending` claim waits for it too.
    return timedelta(seconds=settings.payout_transfer_grace_seconds)


def _judged(
    result: TransferResult, *, sent_at: datetime | None, now: datetime, grace: timedelta
) -> TransferResult:
    """A query's answer as an outcome: no record of the transfer fails it only past grace."""
    if result.state != TransferState.NOT_FOUND:
        return result
    if sent_at is not None and now < sent_at + grace:
        deadline = (sent_at + grace).isoformat()
        return replace(
            result,
            state=TransferState.UNKNOWN,
            failure_message=f"no record of the transfer yet; failed if still none at {deadline}",
        )
    return replace(
        result,
        state=TransferState.FAILED,
        failure_message="the provider has no record of the transfer past the grace period",
    )


async def _query(provider: PaymentProvider, out_bill_no: str) -> TransferResult:
    try:
        return await provider.query(out_bill_no=out_bill_no)
    except Exception as exc:  # an unanswered query settles nothing
        log.exception("querying transfer %s raised", out_bill_no)
        return TransferResult(
            TransferState.UNKNOWN, failure_code="provider_error", failure_message=str(exc)[:500]
        )


async def _record_outcome(
    *,
    withdrawal_id: int,
    out_bill_no: str,
    result: TransferResult,
    actor: Principal | None,
    via: str,
) -> Withdrawal:
    """Write what the provider said about transfer `out_bill_no` (stale answers change nothing)."""
    details = {
        "out_bill_no": out_bill_no,
        "state": result.state.value,
        "via": via,
        "provider_reference": result.provider_reference,
        "failure_code": result.failure_code,
        "failure_message": result.failure_message,
        "provider_details": result.details,
    }
    async with in_transaction() as conn:
        withdrawal = await lock_withdrawal(conn, withdrawal_id)
        if withdrawal.status != WithdrawalStatus.PAYING or withdrawal.out_bill_no != out_bill_no:
            return withdrawal
        withdrawal.provider_reference = result.provider_reference or withdrawal.provider_reference
        withdrawal.transfer_phase = result.state.value
        withdrawal.user_confirmation = (
            result.user_confirmation if result.state == TransferState.PROCESSING else None
        )
        if result.state == TransferState.SUCCEEDED:
            await settle_paid(conn, withdrawal, action="succeed", actor=actor, details=details)
            return withdrawal
        now = clock.now()
        withdrawal.failure_code, withdrawal.failure_message = (
            result.failure_code,
            result.failure_message,
        )
        withdrawal.updated_at = now
        action = "transfer_pending"
        if result.state == TransferState.FAILED:
            action = "fail"
            withdrawal.status = WITHDRAWAL_LIFECYCLE.target(WithdrawalStatus.PAYING, "fail").value
        await withdrawal.save(using_db=conn)
        await record_change(
            conn,
            withdrawal,
            action=action,
            from_status=WithdrawalStatus.PAYING.value,
            actor=actor,
            details=details,
        )
    return withdrawal


async def _pay(
    *, withdrawal_id: int, action: str, actor: Principal, settings: Settings
) -> dict[str, Any]:
    if not await Withdrawal.filter(id=withdrawal_id).exists():
        raise withdrawal_not_found()
    provider = current_provider(settings)
    withdrawal = await _claim(
        withdrawal_id=withdrawal_id, action=action, provider=provider, actor=actor
    )
    result = await _transfer(provider, withdrawal)
    recorded = await _record_outcome(
        withdrawal_id=withdrawal.id,
        out_bill_no=withdrawal.out_bill_no or "",
        result=result,
        actor=actor,
        via="transfer",
    )
    return serialize_withdrawal(recorded, viewer="finance")


async def pay_withdrawal(
    *, withdrawal_id: int, actor: Principal, settings: Settings
) -> dict[str, Any]:
    """Send an approved withdrawal through the payment provider."""
    return await _pay(withdrawal_id=withdrawal_id, action="pay", actor=actor, settings=settings)


async def retry_withdrawal(
    *, withdrawal_id: int, actor: Principal, settings: Settings
) -> dict[str, Any]:
    """Send a failed withdrawal again, as a new transfer."""
    return await _pay(withdrawal_id=withdrawal_id, action="retry", actor=actor, settings=settings)


async def resolve_withdrawal(
    *,
    withdrawal_id: int,
    settings: Settings,
    actor: Principal | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Ask the provider how an in-flight transfer ended and record it."""
    withdrawal = await Withdrawal.filter(id=withdrawal_id).first()
    if withdrawal is None:
        raise withdrawal_not_found()
    if withdrawal.status != WithdrawalStatus.PAYING or not withdrawal.out_bill_no:
        raise Conflict(
            "no transfer of this withdrawal is in flight", code="withdrawal_not_in_flight"
        )
    moment = now or clock.now()
    started = withdrawal.transfer_started_at
    grace = transfer_grace(settings)
    if withdrawal.transfer_phase == TransferPhase.SENDING and started and started > moment - grace:
        raise Conflict(
            "the transfer may still be under way: ask again later",
            code="withdrawal_transfer_sending",
        )
    provider = current_provider(settings)
    answer = await _query(provider, withdrawal.out_bill_no)
    result = _judged(answer, sent_at=started, now=moment, grace=grace)
    recorded = await _record_outcome(
        withdrawal_id=withdrawal.id,
        out_bill_no=withdrawal.out_bill_no,
        result=result,
        actor=actor,
        via="query",
    )
    return serialize_withdrawal(recorded, viewer="finance")


async def resolve_pending_transfers(*, settings: Settings, now: datetime) -> dict[str, Any]:
    """Query every in-flight transfer the provider may have settled (the job)."""
    due = (
        await Withdrawal.filter(status=WithdrawalStatus.PAYING.value)
        .filter(
            Q(transfer_phase__in=[TransferPhase.PROCESSING.value, TransferPhase.UNKNOWN.value])
            | Q(
                transfer_phase=TransferPhase.SENDING.value,
                transfer_started_at__lte=now - transfer_grace(settings),
            )
        )
        .order_by("id")
        .limit(RESOLVE_BATCH)
        .only("id")
    )
    outcomes: dict[str, int] = {}
    for candidate in due:
        try:
            resolved = await resolve_withdrawal(
                withdrawal_id=candidate.id, settings=settings, now=now
            )
            key = resolved["status"]
        except FenxiaoError as exc:
            # Settled meanwhile, or no provider to ask: the others are still worth asking.
            log.warning("transfer of withdrawal %s not resolved: %s", candidate.id, exc.code)
            key = exc.code
        outcomes[key] = outcomes.get(key, 0) + 1
    return {"checked": len(due), "by_status": outcomes, "now": now.isoformat()}


async def release_withdrawal(
    *, withdrawal_id: int, reason: str, actor: Principal
) -> dict[str, Any]:
    """Give a failed withdrawal's amount back to the promoter's available balance."""
    text = check_reason(reason)
    async with in_transaction() as conn:
        withdrawal = await lock_withdrawal(conn, withdrawal_id)
        before = withdrawal.status
        target = WITHDRAWAL_LIFECYCLE.target(WithdrawalStatus(before), "release")
        await release_funds(conn, withdrawal, memo=text)
        now = clock.now()
        withdrawal.status, withdrawal.release_reason = target.value, text
        withdrawal.decided_by, withdrawal.decided_at, withdrawal.updated_at = actor.id, now, now
        await withdrawal.save(using_db=conn)
        await record_change(
            conn, withdrawal, action="release", from_status=before, actor=actor, reason=text
        )
        await enqueue_notification(
            user_id=withdrawal.user_id,
            program_id=withdrawal.program_id,
            template=TEMPLATE_WITHDRAWAL_REJECTED,
            data={"amount": money_text(withdrawal.amount, withdrawal.currency), "reason": text},
            reference=f"withdrawal:{withdrawal.id}:released",
            conn=conn,
        )
    return serialize_withdrawal(withdrawal, viewer="finance")


async def mark_withdrawal_paid(
    *, withdrawal_id: int, reference: str, actor: Principal, note: str | None = None
) -> dict[str, Any]:
    """Finance paid outside the system (bank, cash): record it with the payment's reference."""
    text = (reference or "").strip()
    if not text or len(text) > MAX_REFERENCE_LENGTH:
        raise ValidationFailed(
            "the payment reference is required",
            code="payment_reference_required",
            fields={"reference": f"1..{MAX_REFERENCE_LENGTH} characters"},
        )
    async with in_transaction() as conn:
        withdrawal = await lock_withdrawal(conn, withdrawal_id)
        await refuse_if_held(conn, withdrawal.promoter_id, what="paying a withdrawal")
        withdrawal.offline_reference, withdrawal.paid_by = text, actor.id
        await settle_paid(
            conn,
            withdrawal,
            action="mark_paid",
            actor=actor,
            details={"reference": text, "note": note},
        )
    return serialize_withdrawal(withdrawal, viewer="finance")
