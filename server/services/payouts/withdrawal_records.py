"""What a withdrawal writes in the caller's transaction besides itself: its history and audit
entries, its ledger movements, the commissions it covers (allocation) and, once paid, those
commissions' move to `paid`. Shared by requests, payments and payout batches.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q

from server import clock
from server.auth import Principal
from server.domain.commissions.status import COMMISSION_LIFECYCLE, CommissionStatus
from server.domain.errors import NotFound
from server.domain.ledger.postings import Account, MovementKind
from server.domain.payouts.schedule import ItemKind, Source, allocate
from server.domain.payouts.withdrawals import LIVE_STATUSES, WITHDRAWAL_LIFECYCLE, WithdrawalStatus
from server.logging_setup import current_request_id
from server.models import (
    Commission,
    CommissionChange,
    LedgerEntry,
    PayoutItem,
    Withdrawal,
    WithdrawalChange,
)
from server.services.access.audit import record_action
from server.services.ledger.postings import as_decimal, post_movement, sql_rows
from server.services.operations.notifications import TEMPLATE_WITHDRAWAL_PAID, enqueue_notification
from server.services.reports.marks import mark_commissions
from server.services.webhooks.outbox import record_withdrawal_event


def withdrawal_not_found() -> NotFound:
    return NotFound("no such withdrawal", code="withdrawal_not_found")


def actor_kind(actor: Principal | None) -> str:
    return actor.kind if actor else "system"


async def record_change(
    conn: BaseDBAsyncClient,
    withdrawal: Withdrawal,
    *,
    action: str,
    from_status: str | None,
    actor: Principal | None,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
    request_id: str | None = None,
) -> None:
    """Append one history row and the matching audit entry."""
    now = clock.now()
    await WithdrawalChange.create(
        withdrawal_id=withdrawal.id,
        action=action,
        from_status=from_status,
        to_status=withdrawal.status,
        reason=reason,
        details=details or {},
        actor_kind=actor_kind(actor),
        actor_id=actor.id if actor else None,
        at=now,
        using_db=conn,
    )
    await record_action(
        actor=actor,
        action=f"withdrawal.{action}",
        target_kind="withdrawal",
        target_id=withdrawal.id,
        program_id=withdrawal.program_id,
        details={"from": from_status, "to": withdrawal.status, "reason": reason, **(details or {})},
        # Routes that do not pass it still get the id of the request being served.
        request_id=request_id or current_request_id.get(),
        using_db=conn,
    )
    await record_withdrawal_event(withdrawal, conn=conn)


async def lock_withdrawal(conn: BaseDBAsyncClient, withdrawal_id: int) -> Withdrawal:
    found = await Withdrawal.filter(id=withdrawal_id).using_db(conn).select_for_update().first()
    if found is None:
        raise withdrawal_not_found()
    return found


def movement(
    withdrawal: Withdrawal, kind: MovementKind, postings: list[tuple[str, Decimal]]
) -> dict[str, Any]:
    """post_movement's arguments for one movement of the withdrawal (reference by kind)."""
    return {
        "promoter_id": withdrawal.promoter_id,
        "program_id": withdrawal.program_id,
        "currency": withdrawal.currency,
        "kind": kind.value,
        "postings": postings,
        "reference": f"withdrawal:{withdrawal.id}:{kind.value}",
        "withdrawal_id": withdrawal.id,
    }


async def release_funds(conn: BaseDBAsyncClient, withdrawal: Withdrawal, memo: str) -> None:
    """Give the held amount back to available (rejection or release after a failure)."""
    amount = withdrawal.amount
    await post_movement(
        conn=conn,
        memo=memo,
        **movement(
            withdrawal,
            MovementKind.RELEASE,
            [(Account.ON_HOLD.value, -amount), (Account.AVAILABLE.value, amount)],
        ),
    )


async def post_payment(conn: BaseDBAsyncClient, withdrawal: Withdrawal) -> None:
    """Fee, tax and net leave the hold: the withdrawal is paid in the ledger."""
    for kind, amount in ((MovementKind.FEE, withdrawal.fee), (MovementKind.TAX, withdrawal.tax)):
        if amount > 0:
            postings = [(Account.ON_HOLD.value, -amount)]
            await post_movement(conn=conn, **movement(withdrawal, kind, postings))
    net = withdrawal.net
    postings = [(Account.ON_HOLD.value, -net), (Account.PAID.value, net)]
    await post_movement(conn=conn, **movement(withdrawal, MovementKind.PAY, postings))


def _ids(values: list[int]) -> str:
    # Integers read from the database, inlined: one statement whatever the count.
    return ",".join(str(int(v)) for v in values)


async def allocation_sources(
    conn: BaseDBAsyncClient, *, promoter_id: int, currency: str
) -> list[Source]:
    """What the promoter was credited and live payouts do not cover yet, oldest first."""
    # Only settled commissions and ones a clawback touched can have anything left, so the work
    # grows with the unpaid backlog, not with the promoter's whole history.
    clawed = (
        await LedgerEntry.filter(
            promoter_id=promoter_id, currency=currency, kind="clawback", commission_id__isnull=False
        )
        .using_db(conn)
        .values_list("commission_id", flat=True)
    )
    open_or_clawed = Q(status=CommissionStatus.SETTLED.value)
    if clawed:
        open_or_clawed |= Q(id__in=sorted({int(c) for c in clawed}))
    commissions = (
        await Commission.filter(open_or_clawed, promoter_id=promoter_id, currency=currency)
        .using_db(conn)
        .order_by("id")
        .only("id", "settled_amount")
    )
    adjustments = (
        await LedgerEntry.filter(promoter_id=promoter_id, currency=currency, kind="adjustment")
        .using_db(conn)
        .order_by("id")
        .only("id", "amount")
    )
    covered = await _covered(
        conn, [c.id for c in commissions], [e.id for e in adjustments], promoter_id
    )
    sources = []
    for kind, source_id, credited in [
        *((ItemKind.COMMISSION, c.id, c.settled_amount) for c in commissions),
        *((ItemKind.ADJUSTMENT, e.id, e.amount) for e in adjustments),
    ]:
        remaining = credited - covered.get((kind.value, source_id), Decimal(0))
        if remaining != 0:
            sources.append(Source(kind, source_id, remaining))
    return sources


async def _covered(
    conn: BaseDBAsyncClient, commission_ids: list[int], entry_ids: list[int], promoter_id: int
) -> dict[tuple[str, int], Decimal]:
    """How much of each source live payouts already cover."""
    links = []
    if commission_ids:
        links.append(f"i.commission_id IN ({_ids(commission_ids)})")
    if entry_ids:
        links.append(f"i.ledger_entry_id IN ({_ids(entry_ids)})")
    if not links:
        return {}
    live = sorted(s.value for s in LIVE_STATUSES)
    rows = await sql_rows(
        conn,
        "SELECT i.kind AS kind, i.commission_id AS cid, i.ledger_entry_id AS eid,"
        " i.amount AS amount FROM payout_items AS i JOIN withdrawals AS w"
        f" ON w.id = i.withdrawal_id WHERE w.promoter_id = ? AND ({' OR '.join(links)})"
        f" AND w.status IN ({', '.join('?' for _ in live)})",
        [promoter_id, *live],
    )
    covered: dict[tuple[str, int], Decimal] = {}
    for row in rows:
        source_id = row["cid"] if row["kind"] == ItemKind.COMMISSION else row["eid"]
        key = (row["kind"], int(source_id))
        covered[key] = covered.get(key, Decimal(0)) + as_decimal(row["amount"])
    return covered


async def allocate_withdrawal(conn: BaseDBAsyncClient, withdrawal: Withdrawal) -> None:
    """Record which commissions (and carry-forwards) the withdrawal covers."""
    sources = await allocation_sources(
        conn, promoter_id=withdrawal.promoter_id, currency=withdrawal.currency
    )
    now = clock.now()
    for item in allocate(withdrawal.amount, sources):
        await PayoutItem.create(
            withdrawal_id=withdrawal.id,
            kind=item.kind.value,
            commission_id=item.source_id if item.kind == ItemKind.COMMISSION else None,
            ledger_entry_id=item.source_id if item.kind == ItemKind.ADJUSTMENT else None,
            amount=item.amount,
            created_at=now,
            using_db=conn,
        )


async def mark_commissions_paid(
    conn: BaseDBAsyncClient,
    withdrawal: Withdrawal,
    commission_ids: list[int],
    actor: Principal | None,
) -> None:
    """Commissions whose settled amount paid payouts now fully cover become `paid`."""
    now = clock.now()
    commissions = (
        await Commission.filter(id__in=commission_ids, status=CommissionStatus.SETTLED.value)
        .using_db(conn)
        .order_by("id")
    )
    for commission in commissions:
        rows = await sql_rows(
            conn,
            "SELECT i.amount AS amount FROM payout_items AS i JOIN withdrawals AS w"
            " ON w.id = i.withdrawal_id WHERE i.commission_id = ? AND (w.status = ? OR w.id = ?)",
            [commission.id, WithdrawalStatus.PAID.value, withdrawal.id],
        )
        covered = sum((as_decimal(r["amount"]) for r in rows), Decimal(0))
        if commission.settled_amount <= 0 or covered < commission.settled_amount:
            continue
        target = COMMISSION_LIFECYCLE.target(CommissionStatus.SETTLED, "pay")
        commission.status, commission.payout_id, commission.paid_at = (
            target.value,
            withdrawal.id,
            now,
        )
        await commission.save(
            using_db=conn, update_fields=["status", "payout_id", "paid_at", "updated_at"]
        )
        await CommissionChange.create(
            commission_id=commission.id,
            action="pay",
            from_status=CommissionStatus.SETTLED.value,
            to_status=target.value,
            amount_before=commission.amount,
            amount_after=commission.amount,
            reason=f"covered by payout {withdrawal.id}",
            actor_kind=actor_kind(actor) if actor else "system",
            actor_id=actor.id if actor else None,
            at=now,
            using_db=conn,
        )
        await mark_commissions(conn=conn, ids=[commission.id])


async def settle_paid(
    conn: BaseDBAsyncClient,
    withdrawal: Withdrawal,
    *,
    action: str,
    actor: Principal | None,
    details: dict[str, Any],
) -> None:
    """The withdrawal is paid: ledger, covered commissions, history and the message."""
    # Lock order: the withdrawal (held by the caller), its items, the commissions they cover,
    # then the balance row — commissions before balances, as everywhere money moves.
    before = withdrawal.status
    target = WITHDRAWAL_LIFECYCLE.target(WithdrawalStatus(before), action)
    items = await PayoutItem.filter(withdrawal_id=withdrawal.id).using_db(conn).select_for_update()
    commission_ids = sorted(
        {i.commission_id for i in items if i.kind == ItemKind.COMMISSION and i.commission_id}
    )
    if commission_ids:
        await (
            Commission.filter(id__in=commission_ids)
            .using_db(conn)
            .select_for_update()
            .order_by("id")
            .only("id")
        )
    await post_payment(conn, withdrawal)
    await mark_commissions_paid(conn, withdrawal, commission_ids, actor)
    now = clock.now()
    withdrawal.status, withdrawal.paid_at, withdrawal.updated_at = target.value, now, now
    withdrawal.paid_by = actor.id if actor and actor.kind == "staff" else withdrawal.paid_by
    await withdrawal.save(using_db=conn)
    await record_change(
        conn, withdrawal, action=action, from_status=before, actor=actor, details=details
    )
    await enqueue_notification(
        user_id=withdrawal.user_id,
        program_id=withdrawal.program_id,
        template=TEMPLATE_WITHDRAWAL_PAID,
        data={"amount": str(withdrawal.net), "status": "paid"},
        reference=f"withdrawal:{withdrawal.id}:paid",
        conn=conn,
    )
