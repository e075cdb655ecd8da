"""Withdrawals asked for by promoters, and finance's decision on them; one transaction each."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import tzinfo
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from server import clock
from server.auth import Principal
from server.domain.errors import Conflict, ValidationFailed
from server.domain.idempotency import idempotency_key_reused
from server.domain.ledger.postings import Account, MovementKind
from server.domain.money import money_text
from server.domain.payouts.tax_profile import check_tax_profile
from server.domain.payouts.withdrawals import (
    LIVE_STATUSES,
    WITHDRAWAL_LIFECYCLE,
    Deductions,
    WithdrawalAsk,
    WithdrawalOrigin,
    WithdrawalStatus,
    check_reason,
    check_withdrawal,
    day_bounds,
    fingerprint_fields,
    parse_withdrawal_amount,
)
from server.domain.promoters.status import PromoterStatus
from server.models import (
    Program,
    Promoter,
    PromoterBalance,
    User,
    Withdrawal,
)
from server.services.access.sealing import keyed_hash, sealed_account_number
from server.services.fraud.holds import refuse_if_held
from server.services.ledger.postings import post_movement
from server.services.operations.notifications import (
    TEMPLATE_WITHDRAWAL_REJECTED,
    enqueue_notification,
)
from server.services.payouts.queries import serialize_withdrawal
from server.services.payouts.withdrawal_records import (
    allocate_withdrawal,
    lock_withdrawal,
    movement,
    record_change,
    release_funds,
)
from server.services.programs.settings import settings_of
from server.services.promoters.agreements import require_current_agreement
from server.services.promoters.onboarding import get_active_promoter

_BANK_NUMBER = re.compile(r"^[0-9]{8,32}$")


@dataclass(frozen=True)
class PayeeAccount:
    """Where the money goes, as the promoter gave it (bank fields only for bank transfers)."""

    real_name: str | None = None
    bank_name: str | None = None
    account_name: str | None = None
    account_number: str | None = None


async def create_held_withdrawal(
    conn: BaseDBAsyncClient,
    *,
    promoter: Promoter,
    currency: str,
    cut: Deductions,
    method: str,
    openid: str | None,
    account: PayeeAccount,
    idempotency_key: str,
    fingerprint: str,
    origin: WithdrawalOrigin,
    status: WithdrawalStatus,
    actor: Principal | None,
    batch_id: int | None = None,
) -> Withdrawal:
    """Insert the withdrawal, hold its amount and allocate it (balance row locked)."""
    now = clock.now()
    withdrawal = await Withdrawal.create(
        program_id=promoter.program_id,  # type: ignore[attr-defined]
        promoter_id=promoter.id,
        user_id=promoter.user_id,  # type: ignore[attr-defined]
        currency=currency,
        amount=cut.amount,
        fee=cut.fee,
        tax=cut.tax,
        net=cut.net,
        deductions=cut.explanation or None,
        method=method,
        openid=openid,
        # WeChat checks the name on large transfers: the one the promoter applied with.
        real_name=account.real_name or promoter.real_name,
        bank_name=account.bank_name,
        account_name=account.account_name,
        **sealed_account_number(account.account_number),
        status=status.value,
        idempotency_key=idempotency_key,
        request_fingerprint=keyed_hash(fingerprint),
        origin=origin.value,
        batch_id=batch_id,
        approved_at=now if status == WithdrawalStatus.APPROVED else None,
        created_at=now,
        updated_at=now,
        using_db=conn,
    )
    amount = cut.amount
    await post_movement(
        conn=conn,
        **movement(
            withdrawal,
            MovementKind.HOLD,
            [(Account.AVAILABLE.value, -amount), (Account.ON_HOLD.value, amount)],
        ),
    )
    await allocate_withdrawal(conn, withdrawal)
    details = {
        "amount": money_text(amount, currency),
        "fee": money_text(cut.fee, currency),
        "tax": money_text(cut.tax, currency),
        "method": method,
    }
    await record_change(
        conn, withdrawal, action=origin.value, from_status=None, actor=actor, details=details
    )
    return withdrawal


def _payee(method: str, account: PayeeAccount) -> PayeeAccount:
    if method != "bank":
        return PayeeAccount(real_name=account.real_name)
    missing = {
        name: "required for bank transfers"
        for name in ("bank_name", "account_name", "account_number")
        if not getattr(account, name)
    }
    if missing:
        raise ValidationFailed(
            "bank details are missing", code="bank_details_required", fields=missing
        )
    if not _BANK_NUMBER.fullmatch(account.account_number or ""):
        raise ValidationFailed(
            "not a bank account number",
            code="invalid_bank_account",
            fields={"account_number": "8 to 32 digits"},
        )
    return account


async def _requested_today(conn: BaseDBAsyncClient, promoter_id: int, tz: tzinfo) -> Decimal:
    start, end = day_bounds(clock.now(), tz)
    rows = (
        await Withdrawal.filter(
            promoter_id=promoter_id,
            origin=WithdrawalOrigin.REQUEST.value,
            status__in=[s.value for s in LIVE_STATUSES],
            created_at__gte=start,
            created_at__lt=end,
        )
        .using_db(conn)
        .only("id", "amount")
    )
    return sum((row.amount for row in rows), Decimal(0))


async def request_withdrawal(
    *,
    user_id: int,
    program_id: int,
    amount: str,
    method: str,
    idempotency_key: str,
    currency: str | None = None,
    account: PayeeAccount | None = None,
) -> tuple[dict[str, Any], bool]:
    """Ask to withdraw; (the withdrawal, True) when created, (it, False) on a replayed key."""
    promoter = await get_active_promoter(user_id=user_id, program_id=program_id)
    if promoter.status != PromoterStatus.APPROVED:
        raise Conflict("a suspended promoter cannot withdraw", code="promoter_suspended")
    program = await Program.get(id=program_id)
    program_settings = settings_of(program)
    rules, tz = program_settings.withdrawal_rules, ZoneInfo(program_settings.time_zone)
    payee = _payee(method, account or PayeeAccount())
    parsed = parse_withdrawal_amount(amount, program.currency)
    fingerprint = fingerprint_fields(
        amount=parsed,
        method=method,
        account=[
            ("currency", currency),
            ("real_name", payee.real_name),
            ("bank_name", payee.bank_name),
            ("account_name", payee.account_name),
            ("account_number", payee.account_number),
        ],
    )
    user = await User.get(id=user_id).only("id", "openid")
    actor = Principal(kind="user", id=user_id, roles=frozenset({"promoter"}))
    async with in_transaction() as conn:
        # First statement, and a locking one: MariaDB takes a transaction's snapshot at its
        # first plain read, so every later read (idempotency key, today's total, what earlier
        # payouts cover) sees all the previous holder of this lock committed.
        balance = (
            await PromoterBalance.filter(promoter_id=promoter.id, currency=program.currency)
            .using_db(conn)
            .select_for_update()
            .first()
        )
        existing = (
            await Withdrawal.filter(promoter_id=promoter.id, idempotency_key=idempotency_key)
            .using_db(conn)
            .first()
        )
        if existing is not None:
            if existing.request_fingerprint != keyed_hash(fingerprint):
                raise Conflict(
                    "this idempotency key was used for another request",
                    code="idempotency_key_reused",
                    fields={"idempotency_key": idempotency_key},
                )
            return serialize_withdrawal(existing, viewer="promoter"), False
        await require_current_agreement(promoter=promoter, conn=conn)
        check_tax_profile(rules, legal_name=promoter.legal_name, tax_id=promoter.tax_id)
        withdrawable = max(balance.available, Decimal(0)) if balance else Decimal(0)
        cut = check_withdrawal(
            WithdrawalAsk(amount=amount, method=method, currency=currency),
            rules=rules,
            program_currency=program.currency,
            withdrawable=withdrawable,
            requested_today=await _requested_today(conn, promoter.id, tz),
        )
        withdrawal = await create_held_withdrawal(
            conn,
            promoter=promoter,
            currency=program.currency,
            cut=cut,
            method=method,
            openid=user.openid if method == "wechat" else None,
            account=payee,
            idempotency_key=idempotency_key,
            fingerprint=fingerprint,
            origin=WithdrawalOrigin.REQUEST,
            status=WithdrawalStatus.REQUESTED,
            actor=actor,
        )
    return serialize_withdrawal(withdrawal, viewer="promoter"), True


async def own_withdrawal(*, user_id: int, program_id: int, withdrawal_id: int) -> dict[str, Any]:
    """One of the caller's withdrawals as its request answered (a replayed request)."""
    withdrawal = await Withdrawal.filter(
        id=withdrawal_id, user_id=user_id, program_id=program_id
    ).first()
    if withdrawal is None:  # a key from before this release, first used in another program
        raise idempotency_key_reused()
    return serialize_withdrawal(withdrawal, viewer="promoter")


async def approve_withdrawal(
    *, withdrawal_id: int, actor: Principal, request_id: str | None = None
) -> dict[str, Any]:
    """Finance approves a requested withdrawal (it can then be paid)."""
    async with in_transaction() as conn:
        withdrawal = await lock_withdrawal(conn, withdrawal_id)
        before = withdrawal.status
        target = WITHDRAWAL_LIFECYCLE.target(WithdrawalStatus(before), "approve")
        await refuse_if_held(conn, withdrawal.promoter_id, what="approving a withdrawal")
        now = clock.now()
        withdrawal.status, withdrawal.approved_by, withdrawal.approved_at = (
            target.value,
            actor.id,
            now,
        )
        withdrawal.updated_at = now
        await withdrawal.save(
            using_db=conn, update_fields=["status", "approved_by", "approved_at", "updated_at"]
        )
        await record_change(
            conn,
            withdrawal,
            action="approve",
            from_status=before,
            actor=actor,
            request_id=request_id,
        )
    return serialize_withdrawal(withdrawal, viewer="finance")


async def reject_withdrawal(
    *, withdrawal_id: int, reason: str, actor: Principal, request_id: str | None = None
) -> dict[str, Any]:
    """Finance rejects a withdrawal with a reason; the held amount goes back to available."""
    text = check_reason(reason)
    async with in_transaction() as conn:
        withdrawal = await lock_withdrawal(conn, withdrawal_id)
        before = withdrawal.status
        target = WITHDRAWAL_LIFECYCLE.target(WithdrawalStatus(before), "reject")
        await release_funds(conn, withdrawal, memo=text)
        now = clock.now()
        withdrawal.status, withdrawal.reject_reason = target.value, text
        withdrawal.decided_by, withdrawal.decided_at, withdrawal.updated_at = actor.id, now, now
        await withdrawal.save(
            using_db=conn,
            update_fields=["status", "reject_reason", "decided_by", "decided_at", "updated_at"],
        )
        await record_change(
            conn,
            withdrawal,
            action="reject",
            from_status=before,
            actor=actor,
            reason=text,
            request_id=request_id,
        )
        await enqueue_notification(
            user_id=withdrawal.user_id,
            program_id=withdrawal.program_id,
            template=TEMPLATE_WITHDRAWAL_REJECTED,
            data={"amount": money_text(withdrawal.amount, withdrawal.currency), "reason": text},
            reference=f"withdrawal:{withdrawal.id}:rejected",
            conn=conn,
        )
    return serialize_withdrawal(withdrawal, viewer="finance")
