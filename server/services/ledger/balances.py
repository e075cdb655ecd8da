"""Reading balances and ledger entries (a promoter's own, or any for back office), and
reconciling the cached balances with the entries.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from server.db import connection
from server.domain.commissions.status import UNSETTLED_STATUSES
from server.domain.errors import NotFound, ValidationFailed
from server.domain.ledger.postings import (
    Account,
    BalanceKey,
    Balances,
    Drift,
    MovementKind,
    reconcile,
)
from server.domain.money import exponent
from server.domain.pagination import check_page_limit, next_cursor
from server.models import LedgerEntry, Program, Promoter, PromoterBalance
from server.services.access.scope import within
from server.services.ledger.postings import money_units, sql_rows, units_value
from server.services.promoters.onboarding import get_active_promoter

log = logging.getLogger("fenxiao.ledger")

# Promoters per reconcile query: bounded memory whatever the ledger's size.
RECONCILE_CHUNK = 5000
# Drifts listed in a report (all are counted).
MAX_REPORTED_DRIFTS = 1000


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _shown(amount: Decimal, currency: str) -> str:
    return str(amount.quantize(Decimal(1).scaleb(-exponent(currency))))


async def _pending_amount(promoter_id: int, currency: str) -> Decimal:
    conn = connection()
    statuses = sorted(s.value for s in UNSETTLED_STATUSES)
    rows = await sql_rows(
        conn,
        f"SELECT SUM({money_units(conn, 'amount')}) AS total FROM commissions"
        " WHERE promoter_id = ? AND currency = ? AND status IN (?, ?)",
        [promoter_id, currency, *statuses],
    )
    return units_value(conn, rows[0]["total"] if rows else None)


async def get_balances(*, promoter_id: int, currency: str) -> dict[str, str]:
    """pending (derived), available, on_hold, paid and carried_forward, as amount strings."""
    row = await PromoterBalance.filter(promoter_id=promoter_id, currency=currency).first()
    cached = Balances(row.available, row.on_hold, row.paid) if row else Balances()
    pending = await _pending_amount(promoter_id, currency)
    return {
        "currency": currency,
        "pending": _shown(pending, currency),
        "available": _shown(cached.withdrawable, currency),
        "on_hold": _shown(cached.on_hold, currency),
        "paid": _shown(cached.paid, currency),
        "carried_forward": _shown(cached.carried_forward, currency),
    }


async def _program_currency(program_id: int) -> str:
    program = await Program.filter(id=program_id).only("id", "currency").first()
    if program is None:
        raise NotFound("no such program", code="program_not_found")
    return program.currency


async def _promoter(promoter_id: int) -> Promoter:
    promoter = await Promoter.filter(id=promoter_id).first()
    if promoter is None:
        raise NotFound("no such promoter", code="promoter_not_found")
    return promoter


async def my_wallet(*, user_id: int, program_id: int) -> dict[str, Any]:
    """The calling promoter's balances in a program."""
    promoter = await get_active_promoter(user_id=user_id, program_id=program_id)
    currency = await _program_currency(program_id)
    balances = await get_balances(promoter_id=promoter.id, currency=currency)
    return {"promoter_id": promoter.id, "program_id": program_id, **balances}


async def promoter_balances(*, promoter_id: int) -> dict[str, Any]:
    """Any promoter's balances in their program's currency (back-office)."""
    promoter = await _promoter(promoter_id)
    currency = await _program_currency(promoter.program_id)  # type: ignore[attr-defined]
    balances = await get_balances(promoter_id=promoter.id, currency=currency)
    return {"promoter_id": promoter.id, "program_id": promoter.program_id, **balances}  # type: ignore[attr-defined]


def serialize_entry(entry: LedgerEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "kind": entry.kind,
        "account": entry.account,
        "amount": _shown(entry.amount, entry.currency),
        "balance_after": _shown(entry.balance_after, entry.currency),
        "currency": entry.currency,
        "reference": entry.reference,
        "commission_id": entry.commission_id,
        "withdrawal_id": entry.withdrawal_id,
        "memo": entry.memo,
        "created_at": entry.created_at,
    }


async def _entries_page(
    *,
    promoter_id: int,
    kind: str | None,
    account: str | None,
    created_from: datetime | None,
    created_to: datetime | None,
    cursor: int | None,
    limit: int,
) -> dict[str, Any]:
    check_page_limit(limit)
    if kind is not None and kind not in set(MovementKind):
        raise ValidationFailed("unknown entry kind", code="invalid_kind", fields={"kind": kind})
    if account is not None and account not in set(Account):
        raise ValidationFailed(
            "unknown account", code="invalid_account", fields={"account": account}
        )
    query = LedgerEntry.filter(promoter_id=promoter_id)
    if kind is not None:
        query = query.filter(kind=kind)
    if account is not None:
        query = query.filter(account=account)
    if created_from is not None:
        query = query.filter(created_at__gte=_utc(created_from))
    if created_to is not None:
        query = query.filter(created_at__lt=_utc(created_to))
    if cursor is not None:
        query = query.filter(id__lt=cursor)
    entries = await query.order_by("-id").limit(limit)
    return {
        "items": [serialize_entry(e) for e in entries],
        "next_cursor": next_cursor([row.id for row in entries], limit),
    }


async def my_ledger(
    *,
    user_id: int,
    program_id: int,
    kind: str | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    cursor: int | None = None,
    limit: int = 20,
) -> dict[str, Any]:
    """The calling promoter's ledger entries in a program, newest first."""
    promoter = await get_active_promoter(user_id=user_id, program_id=program_id)
    return await _entries_page(
        promoter_id=promoter.id,
        kind=kind,
        account=None,
        created_from=created_from,
        created_to=created_to,
        cursor=cursor,
        limit=limit,
    )


async def promoter_ledger(
    *,
    promoter_id: int,
    kind: str | None = None,
    account: str | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    cursor: int | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    """Any promoter's ledger entries, newest first (back-office)."""
    await _promoter(promoter_id)
    return await _entries_page(
        promoter_id=promoter_id,
        kind=kind,
        account=account,
        created_from=created_from,
        created_to=created_to,
        cursor=cursor,
        limit=limit,
    )


@dataclass
class ReconcileReport:
    """Accounts checked and where entries, last balance_after and cache disagree."""

    accounts_checked: int = 0
    drift_count: int = 0
    drifts: list[Drift] = field(default_factory=list)

    @property
    def balanced(self) -> bool:
        return self.drift_count == 0

    def add(self, checked: int, drifts: list[Drift]) -> None:
        self.accounts_checked += checked
        self.drift_count += len(drifts)
        room = MAX_REPORTED_DRIFTS - len(self.drifts)
        self.drifts.extend(drifts[: max(room, 0)])

    def to_dict(self) -> dict[str, Any]:
        return {
            "balanced": self.balanced,
            "accounts_checked": self.accounts_checked,
            "drift_count": self.drift_count,
            "drifts": [d.to_dict() for d in self.drifts],
        }


def _promoter_scope(low: int | None, high: int | None, ids: list[int] | None) -> str:
    if ids is not None:
        return f"promoter_id IN ({','.join(str(int(i)) for i in ids)})"
    clauses = []
    if low is not None:
        clauses.append(f"promoter_id > {int(low)}")
    if high is not None:
        clauses.append(f"promoter_id <= {int(high)}")
    return " AND ".join(clauses) or "1 = 1"


async def _reconcile_scope(conn: BaseDBAsyncClient, scope: str) -> tuple[int, list[Drift]]:
    """Reconcile the accounts of the promoters `scope` selects, in one snapshot."""
    sums: dict[BalanceKey, Decimal] = {}
    lasts: dict[BalanceKey, Decimal] = {}
    cached: dict[BalanceKey, Decimal] = {}
    totals = await sql_rows(
        conn,
        "SELECT s.promoter_id AS promoter_id, s.currency AS currency, s.account AS account,"
        f" s.total AS total, {money_units(conn, 'l.balance_after')} AS last_after FROM ("
        f"  SELECT promoter_id, currency, account, SUM({money_units(conn, 'amount')}) AS total,"
        f"   MAX(id) AS last_id FROM ledger_entries WHERE {scope}"
        "  GROUP BY promoter_id, currency, account"
        " ) AS s JOIN ledger_entries AS l ON l.id = s.last_id",
    )
    for row in totals:
        key = (int(row["promoter_id"]), row["currency"], row["account"])
        sums[key] = units_value(conn, row["total"])
        lasts[key] = units_value(conn, row["last_after"])
    balances = await sql_rows(
        conn,
        "SELECT promoter_id, currency,"
        + ", ".join(f" {money_units(conn, a.value)} AS {a.value}" for a in Account)
        + f" FROM promoter_balances WHERE {scope}",
    )
    for row in balances:
        for account in Account:
            key = (int(row["promoter_id"]), row["currency"], account.value)
            cached[key] = units_value(conn, row[account.value])
    checked = len(set(sums) | set(cached))
    return checked, reconcile(sums, lasts, cached)


async def _next_boundary(low: int | None) -> int | None:
    """The highest promoter id of the next chunk of balance rows, None past the last one."""
    conn = connection()
    after = "" if low is None else f" WHERE promoter_id > {int(low)}"
    rows = await sql_rows(
        conn,
        "SELECT MAX(promoter_id) AS high FROM (SELECT promoter_id FROM promoter_balances"
        f"{after} ORDER BY promoter_id LIMIT {RECONCILE_CHUNK}) AS chunk",
    )
    high = rows[0]["high"] if rows else None
    return int(high) if high is not None else None


async def reconcile_balances(
    *, promoter_ids: list[int] | None = None, programs: Collection[int] | None = None
) -> ReconcileReport:
    """Every drift between entry sums, newest balance_after and cached balances (of the
    promoters of `programs` only, when given)."""
    report = ReconcileReport()
    if promoter_ids is None and programs is not None:
        promoter_ids = await within(Promoter.all(), programs).values_list("id", flat=True)
    if promoter_ids is not None:
        unique = sorted(set(promoter_ids))
        for start in range(0, len(unique), RECONCILE_CHUNK):
            async with in_transaction() as conn:
                chunk = unique[start : start + RECONCILE_CHUNK]
                report.add(*await _reconcile_scope(conn, _promoter_scope(None, None, chunk)))
        return _logged(report)
    low: int | None = None
    while True:
        high = await _next_boundary(low)
        async with in_transaction() as conn:
            # The last scope is open-ended: it also catches entries without a balance row.
            report.add(*await _reconcile_scope(conn, _promoter_scope(low, high, None)))
        if high is None:
            break
        low = high
    return _logged(report)


def _logged(report: ReconcileReport) -> ReconcileReport:
    if not report.balanced:
        log.error("ledger drift on %s accounts: %s", report.drift_count, report.to_dict())
    return report
