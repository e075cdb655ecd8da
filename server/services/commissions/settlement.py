"""The commission jobs: auto-approval of unlocked commissions and settlement into the ledger.

Set-based, one transaction per batch of ids; see docs/design/commissions.md.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from server.db import is_mysql
from server.domain.commissions.status import CommissionStatus
from server.domain.ledger.postings import auto_approve_policy
from server.domain.promoters.status import PromoterStatus
from server.models import Program, PromoterTierRecord
from server.services.fraud.holds import held_promoter_sql
from server.services.ledger.postings import (
    money_units,
    sql_rows,
    sql_write,
    units_as_money,
    units_param,
)
from server.services.reports.marks import mark_commissions
from server.services.webhooks.outbox import record_commissions_settled

log = logging.getLogger("fenxiao.settlement")

BATCH_SIZE = 5000
AUTO_APPROVE_REASON = "auto-approved by the program's rules"
TIER_APPROVE_REASON = "auto-approved as a benefit of the promoter's tier"
SETTLE_REASON = "freeze window over"

_PENDING = CommissionStatus.PENDING.value
_APPROVED = CommissionStatus.APPROVED.value
_SETTLED = CommissionStatus.SETTLED.value


@dataclass(frozen=True)
class _Position:
    """Where the previous batch stopped, in the (unlock_at, id) order batches are taken in."""

    unlock_at: Any
    id: int


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _driven_join(conn: BaseDBAsyncClient) -> str:
    """A join that keeps the batch's rows as the driving table on MySQL."""
    # The balances table grows during a run, so its statistics lag; left to itself the
    # optimizer scans every balance row for each batch instead of one unique-key lookup each.
    return "STRAIGHT_JOIN" if is_mysql(conn) else "JOIN"


def _by_key(conn: BaseDBAsyncClient) -> str:
    """An index hint that makes a statement over a batch's id list read commissions by
    primary key on MySQL.

    Left to itself the optimizer sometimes reads the id list through the (status, unlock_at,
    id) index (whenever few rows of the status are left, or its statistics lag). A locking
    statement on that path locks the index entries before the rows, in the opposite order
    from a transaction that already holds a row by key and must move its entry when it
    changes the status: two settlement runs, or a run and any other writer, deadlock.
    """
    return " FORCE INDEX (PRIMARY)" if is_mysql(conn) else ""


def _id_list(ids: list[int]) -> str:
    # Integers read from the database, inlined: one statement per batch whatever its size.
    return ",".join(str(int(i)) for i in ids)


@dataclass(frozen=True)
class _Batch:
    """The commissions a batch holds locked, and where its candidates stopped."""

    ids: list[int]
    end: _Position


async def _claim(
    conn: BaseDBAsyncClient,
    *,
    status: str,
    now: datetime,
    after: _Position | None,
    limit: int,
    program_id: int | None = None,
    max_amount: Decimal | None = None,
    promoter_in_good_standing: bool = False,
    tier_auto_approve: bool = False,
) -> _Batch | None:
    """The next `limit` due, unheld commissions in `status`, locked; None when none are left."""
    # Candidates are read without locks along the (status, unlock_at, id) index, then locked
    # by primary key (forced, see `_by_key`) and checked again: a locking read along the
    # index would lock whatever the plan scans (one bad plan over a large backlog exhausts
    # the lock table), while by key a batch locks only its own rows, in id order like every
    # other writer of commissions.
    conditions = ["status = ?", "unlock_at <= ?", "hold_reason IS NULL"]
    # A promoter on fraud hold: none of their money moves until staff decide.
    conditions.append(f"NOT {held_promoter_sql('commissions.promoter_id')}")
    values: list[Any] = [status, now]
    if program_id is not None:
        conditions.append("program_id = ?")
        values.append(program_id)
    if max_amount is not None:
        conditions.append(f"{money_units(conn, 'amount')} <= ?")
        values.append(units_param(conn, max_amount))
    if tier_auto_approve:
        # Approval without staff as a tier benefit, recorded on the commission at order time.
        conditions.append("auto_approve = ?")
        values.append(True)
    if promoter_in_good_standing:
        # A suspended or disabled promoter's commissions wait for a person to look at them.
        conditions.append("promoter_id IN (SELECT id FROM promoters WHERE status = ?)")
        values.append(PromoterStatus.APPROVED.value)
    where = " AND ".join(conditions)
    keyset, keys = "", []
    if after is not None:
        keyset = " AND (unlock_at > ? OR (unlock_at = ? AND id > ?))"
        keys = [after.unlock_at, after.unlock_at, after.id]
    selection = (
        f"SELECT id, unlock_at FROM commissions WHERE {where}{keyset}"
        f" ORDER BY unlock_at, id LIMIT {int(limit)}"
    )
    if not is_mysql(conn):
        rows = await sql_rows(conn, selection, [*values, *keys])
        if not rows:
            return None
        return _Batch(
            ids=[int(r["id"]) for r in rows],
            end=_Position(rows[-1]["unlock_at"], int(rows[-1]["id"])),
        )
    # MySQL: ids come back as one string; the driver parses rows slower than the server
    # finds them. The position is text too, which MySQL compares with DATETIME correctly.
    # (MySQL's default group_concat_max_len is 1 KiB; MariaDB's 1 MiB.)
    await sql_write(conn, f"SET SESSION group_concat_max_len = {max(1 << 20, limit * 21)}")
    [found] = await sql_rows(
        conn,
        "SELECT COUNT(*) AS n, GROUP_CONCAT(id ORDER BY unlock_at, id) AS ids,"
        f" CAST(MAX(unlock_at) AS CHAR) AS last_unlock FROM ({selection}) AS candidates",
        [*values, *keys],
    )
    if not found["n"]:
        return None
    candidates = _parse_ids(found["ids"], expected=int(found["n"]))
    end = _Position(found["last_unlock"], candidates[-1])
    [locked] = await sql_rows(
        conn,
        "SELECT COUNT(*) AS n, GROUP_CONCAT(id ORDER BY id) AS ids FROM commissions"
        f"{_by_key(conn)} WHERE id IN ({_id_list(sorted(candidates))}) AND {where} FOR UPDATE",
        values,
    )
    return _Batch(ids=_parse_ids(locked["ids"], expected=int(locked["n"])), end=end)


def _parse_ids(text: str | bytes | None, *, expected: int) -> list[int]:
    """The ids of a GROUP_CONCAT, refusing a list the server truncated."""
    if isinstance(text, bytes):
        text = text.decode()
    ids = [int(part) for part in text.split(",")] if text else []
    if len(ids) != expected:
        raise RuntimeError(
            f"GROUP_CONCAT returned {len(ids)} of {expected} ids: raise group_concat_max_len"
            " or lower the batch size"
        )
    return ids


async def _record_changes(
    conn: BaseDBAsyncClient,
    ids: str,
    *,
    action: str,
    from_status: str,
    to_status: str,
    reason: str,
    now: datetime,
) -> None:
    await sql_write(
        conn,
        "INSERT INTO commission_changes (commission_id, action, from_status, to_status,"
        " amount_before, amount_after, reason, actor_kind, at)"
        f" SELECT id, ?, status, ?, amount, amount, ?, 'system', ? FROM commissions{_by_key(conn)}"
        f" WHERE id IN ({ids}) AND status = ? ORDER BY id",
        [action, to_status, reason, now, from_status],
    )
    await mark_commissions(conn=conn, ids=ids)


async def _ensure_and_lock_balances(conn: BaseDBAsyncClient, ids: str, now: datetime) -> None:
    """Create the batch's missing balance rows; on MySQL lock them all."""
    select = (
        f"SELECT promoter_id, MIN(program_id), currency, 0, 0, 0, ? FROM commissions{_by_key(conn)}"
        f" WHERE id IN ({ids}) GROUP BY promoter_id, currency ORDER BY promoter_id, currency"
    )
    columns = "(promoter_id, program_id, currency, available, on_hold, paid, updated_at)"
    if is_mysql(conn):
        statement = (
            f"INSERT INTO promoter_balances {columns} {select}"
            " ON DUPLICATE KEY UPDATE promoter_balances.promoter_id ="
            " promoter_balances.promoter_id"
        )
    else:
        statement = f"INSERT OR IGNORE INTO promoter_balances {columns} {select}"
    await sql_write(conn, statement, [now])


async def _credit_ledger(conn: BaseDBAsyncClient, ids: str, now: datetime) -> None:
    # balance_after is the cached balance plus the running sum of the batch's credits per
    # promoter in id order, and rows go in in that order, so the newest entry has the balance.
    units = money_units(conn, "c.amount")
    reference = (
        "CONCAT('commission:', id, ':settle')"
        if is_mysql(conn)
        else "('commission:' || id || ':settle')"
    )
    await sql_write(
        conn,
        "INSERT INTO ledger_entries (promoter_id, program_id, currency, account, kind, amount,"
        " balance_after, reference, commission_id, memo, created_at)"
        " SELECT promoter_id, program_id, currency, 'available', 'settle', amount,"
        f" {units_as_money(conn, 'running')}, {reference}, id, '', ? FROM ("
        "  SELECT c.id AS id, c.promoter_id AS promoter_id, c.program_id AS program_id,"
        "   c.currency AS currency, c.amount AS amount,"
        f"   {money_units(conn, 'b.available')} + SUM({units}) OVER ("
        "     PARTITION BY c.promoter_id, c.currency ORDER BY c.id"
        "     ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS running"
        f"  FROM commissions AS c{_by_key(conn)} {_driven_join(conn)} promoter_balances AS b"
        "   ON b.promoter_id = c.promoter_id AND b.currency = c.currency"
        f"  WHERE c.id IN ({ids}) AND c.status = ? AND {units} > 0"
        " ) AS credits ORDER BY id",
        [now, _APPROVED],
    )


async def _credit_balances(conn: BaseDBAsyncClient, ids: str, now: datetime) -> None:
    units = money_units(conn, "amount")
    credits = (
        f"SELECT promoter_id, currency, SUM({units}) AS total FROM commissions{_by_key(conn)}"
        f" WHERE id IN ({ids}) AND status = ? AND {units} > 0 GROUP BY promoter_id, currency"
    )
    if is_mysql(conn):
        statement = (
            f"UPDATE ({credits}) AS t STRAIGHT_JOIN promoter_balances AS b"
            " ON b.promoter_id = t.promoter_id AND b.currency = t.currency"
            " SET b.available = b.available + t.total, b.updated_at = ?"
        )
    else:
        new_available = units_as_money(conn, f"{money_units(conn, 'available')} + t.total")
        statement = (
            f"UPDATE promoter_balances SET available = {new_available}, updated_at = ?"
            f" FROM ({credits}) AS t WHERE promoter_balances.promoter_id = t.promoter_id"
            " AND promoter_balances.currency = t.currency"
        )
        await sql_write(conn, statement, [now, _APPROVED])
        return
    await sql_write(conn, statement, [_APPROVED, now])


async def _settle_batch(conn: BaseDBAsyncClient, ids: str, now: datetime) -> int:
    # Order matters: history and credits read the rows while they are still approved, and
    # the entries read the balances before the batch's credit is added to them.
    await _ensure_and_lock_balances(conn, ids, now)
    await _record_changes(
        conn,
        ids,
        action="settle",
        from_status=_APPROVED,
        to_status=_SETTLED,
        reason=SETTLE_REASON,
        now=now,
    )
    await _credit_ledger(conn, ids, now)
    await _credit_balances(conn, ids, now)
    return await sql_write(
        conn,
        f"UPDATE commissions{_by_key(conn)} SET status = ?, settled_amount = amount,"
        f" settled_at = ?, updated_at = ? WHERE id IN ({ids}) AND status = ?",
        [_SETTLED, now, now, _APPROVED],
    )


async def settle_due_commissions(
    *, now: datetime, batch_size: int = BATCH_SIZE, max_batches: int | None = None
) -> dict[str, Any]:
    """Settle approved, unheld commissions unlocked by `now` into balances."""
    now = _utc(now)
    settled = batches = 0
    after: _Position | None = None
    while max_batches is None or batches < max_batches:
        async with in_transaction() as conn:
            batch = await _claim(conn, status=_APPROVED, now=now, after=after, limit=batch_size)
            if batch is None:
                break
            if batch.ids:
                settled += await _settle_batch(conn, _id_list(batch.ids), now)
                await record_commissions_settled(batch.ids, conn=conn)
        batches += 1
        after = batch.end
        log.info("settlement batch %s: %s commissions so far", batches, settled)
    return {"settled": settled, "batches": batches, "now": now.isoformat()}


async def _approve_program(
    *,
    program_id: int,
    max_amount: Decimal | None,
    now: datetime,
    batch_size: int,
    tier_auto_approve: bool = False,
) -> int:
    approved = 0
    after: _Position | None = None
    while True:
        async with in_transaction() as conn:
            batch = await _claim(
                conn,
                status=_PENDING,
                now=now,
                after=after,
                limit=batch_size,
                program_id=program_id,
                max_amount=max_amount,
                promoter_in_good_standing=True,
                tier_auto_approve=tier_auto_approve,
            )
            if batch is None:
                return approved
            if not batch.ids:
                after = batch.end
                continue
            ids = _id_list(batch.ids)
            await _record_changes(
                conn,
                ids,
                action="approve",
                from_status=_PENDING,
                to_status=_APPROVED,
                reason=TIER_APPROVE_REASON if tier_auto_approve else AUTO_APPROVE_REASON,
                now=now,
            )
            approved += await sql_write(
                conn,
                f"UPDATE commissions{_by_key(conn)} SET status = ?, approved_at = ?,"
                f" updated_at = ? WHERE id IN ({ids}) AND status = ?",
                [_APPROVED, now, now, _PENDING],
            )
        after = batch.end


async def approve_due_commissions(*, now: datetime, batch_size: int = BATCH_SIZE) -> dict[str, Any]:
    """Approve unlocked pending commissions the program's auto-approve rules allow."""
    now = _utc(now)
    approved: dict[str, int] = {}
    programs = await Program.filter(status="active").only("id", "auto_approve_rules")
    with_tiers = set(await PromoterTierRecord.all().distinct().values_list("program_id", flat=True))
    for program in programs:
        policy = auto_approve_policy(program.auto_approve_rules)
        count = 0
        if policy.enabled:
            count = await _approve_program(
                program_id=program.id,
                max_amount=policy.max_line_amount,
                now=now,
                batch_size=batch_size,
            )
        # Then what a tier approves without staff, whatever the program's own policy (only
        # programs that have tiers: the flag comes from a tier at order time).
        if program.id in with_tiers:
            count += await _approve_program(
                program_id=program.id,
                max_amount=None,
                now=now,
                batch_size=batch_size,
                tier_auto_approve=True,
            )
        if count:
            approved[str(program.id)] = count
    return {"approved": sum(approved.values()), "by_program": approved, "now": now.isoformat()}
