"""Posting to the ledger inside the caller's transaction: movements and refund clawbacks.

Lock order wherever money moves: commission rows first, then the promoter's balance row.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError

from server import clock
from server.db import is_mysql
from server.domain.commissions.status import IN_LEDGER_STATUSES, CommissionStatus
from server.domain.errors import Conflict, NotFound, ValidationFailed
from server.domain.ledger.postings import (
    Account,
    Balances,
    MovementKind,
    apply_postings,
    clawback_amount,
    validate_movement,
)
from server.models import Commission, LedgerEntry, PromoterBalance


def sql(conn: BaseDBAsyncClient, text: str) -> str:
    """Statements are written with `?` markers; MySQL wants `%s`."""
    return text.replace("?", "%s") if is_mysql(conn) else text


async def sql_rows(
    conn: BaseDBAsyncClient, text: str, values: Sequence[Any] = ()
) -> list[dict[str, Any]]:
    return await conn.execute_query_dict(sql(conn, text), list(values))


async def sql_write(conn: BaseDBAsyncClient, text: str, values: Sequence[Any] = ()) -> int:
    """Run a write statement; the number of rows it changed."""
    changed, _ = await conn.execute_query(sql(conn, text), list(values))
    return changed


def as_decimal(value: Any) -> Decimal:
    """A DECIMAL read through raw SQL: text on SQLite, Decimal on MySQL, NULL as zero."""
    return Decimal(str(value)) if value is not None else Decimal("0.00")


# Money arithmetic in raw SQL. MySQL's DECIMAL is exact; SQLite stores DECIMAL as text and
# would sum it as floats, so there the arithmetic runs on integer cents and is formatted back.
def money_units(conn: BaseDBAsyncClient, expression: str) -> str:
    """`expression` (a DECIMAL column) as an exactly summable number."""
    return expression if is_mysql(conn) else f"CAST(ROUND(({expression}) * 100) AS INTEGER)"


def units_as_money(conn: BaseDBAsyncClient, expression: str) -> str:
    """A sum of money_units back to a storable amount; `expression` may be repeated."""
    if is_mysql(conn):
        return expression
    return (
        f"printf('%s%d.%02d', CASE WHEN ({expression}) < 0 THEN '-' ELSE '' END,"
        f" abs({expression}) / 100, abs({expression}) % 100)"
    )


def units_param(conn: BaseDBAsyncClient, amount: Decimal) -> Decimal | int:
    """An amount as a parameter compared with money_units."""
    return amount if is_mysql(conn) else int((amount * 100).to_integral_value())


def units_value(conn: BaseDBAsyncClient, raw: Any) -> Decimal:
    """A money_units result read back as a Decimal amount."""
    if raw is None:
        return Decimal("0.00")
    if is_mysql(conn):
        return Decimal(str(raw)).quantize(Decimal("0.01"))
    return Decimal(int(raw)).scaleb(-2)


async def _check_owner(
    conn: BaseDBAsyncClient, *, promoter_id: int, program_id: int, currency: str
) -> None:
    """The promoter belongs to the program and the program counts in `currency`."""
    rows = await sql_rows(
        conn,
        "SELECT p.program_id AS program_id, g.currency AS currency FROM promoters AS p"
        " JOIN programs AS g ON g.id = p.program_id WHERE p.id = ?",
        [promoter_id],
    )
    if not rows:
        raise NotFound("no such promoter", code="promoter_not_found")
    if int(rows[0]["program_id"]) != program_id:
        raise ValidationFailed(
            "the promoter is not in this program",
            code="program_mismatch",
            fields={"program_id": program_id},
        )
    if rows[0]["currency"] != currency:
        raise ValidationFailed(
            f"the program counts in {rows[0]['currency']}, not {currency}",
            code="currency_mismatch",
            fields={"currency": currency},
        )


async def lock_balance(
    conn: BaseDBAsyncClient, *, promoter_id: int, program_id: int, currency: str
) -> PromoterBalance:
    """The promoter's balance row in `currency`, created at zero if missing, locked."""
    # A plain read first: a locking read of a missing key takes a gap lock, and two such
    # transactions inserting into the same gap deadlock. On MySQL a duplicate insert gets our
    # exclusive lock at once, so there is no shared-to-exclusive upgrade.
    found = PromoterBalance.filter(promoter_id=promoter_id, currency=currency).using_db(conn)
    if not await found.exists():
        await _check_owner(conn, promoter_id=promoter_id, program_id=program_id, currency=currency)
        conflict = (
            " ON DUPLICATE KEY UPDATE promoter_id = promoter_id"
            if is_mysql(conn)
            else " ON CONFLICT (promoter_id, currency) DO NOTHING"
        )
        await sql_write(
            conn,
            "INSERT INTO promoter_balances"
            " (promoter_id, program_id, currency, available, on_hold, paid, updated_at)"
            f" VALUES (?, ?, ?, 0, 0, 0, ?){conflict}",
            [promoter_id, program_id, currency, clock.now()],
        )
    balance = await found.select_for_update().get()
    if balance.program_id != program_id:
        raise ValidationFailed(
            "the promoter is not in this program",
            code="program_mismatch",
            fields={"program_id": program_id},
        )
    return balance


def balances_of(row: PromoterBalance) -> Balances:
    return Balances(available=row.available, on_hold=row.on_hold, paid=row.paid)


async def _existing_movement(
    conn: BaseDBAsyncClient, *, reference: str, promoter_id: int, kind: str
) -> list[LedgerEntry]:
    entries = await LedgerEntry.filter(reference=reference).using_db(conn).order_by("id")
    for entry in entries:
        if entry.promoter_id != promoter_id or entry.kind != kind:
            raise Conflict(
                "this ledger reference was used for another movement",
                code="ledger_reference_conflict",
                fields={"reference": reference},
            )
    return entries


async def post_movement(
    *,
    conn: BaseDBAsyncClient,
    promoter_id: int,
    program_id: int,
    currency: str,
    kind: str,
    postings: Sequence[tuple[str, Decimal]],
    reference: str,
    commission_id: int | None = None,
    withdrawal_id: int | None = None,
    memo: str = "",
) -> list[LedgerEntry]:
    """Post one movement in the caller's transaction; a posted reference is returned as is."""
    movement, lines = validate_movement(kind, postings, currency)
    balance = await lock_balance(
        conn, promoter_id=promoter_id, program_id=program_id, currency=currency
    )
    existing = await _existing_movement(
        conn, reference=reference, promoter_id=promoter_id, kind=movement.value
    )
    if existing:
        return existing
    after, posted = apply_postings(balances_of(balance), movement, lines)
    created: list[LedgerEntry] = []
    now = clock.now()
    for line in posted:
        try:
            entry = await LedgerEntry.create(
                promoter_id=promoter_id,
                program_id=program_id,
                currency=currency,
                account=line.account.value,
                kind=movement.value,
                amount=line.amount,
                balance_after=line.balance_after,
                reference=reference,
                commission_id=commission_id,
                withdrawal_id=withdrawal_id,
                memo=memo[:255],
                created_at=now,
                using_db=conn,
            )
        except IntegrityError:
            # Committed by a concurrent transaction after this one's snapshot was taken:
            # only the first insert can collide (a movement's entries commit together).
            if created:
                raise
            fresh = await LedgerEntry.filter(reference=reference).using_db(conn).select_for_update()
            if fresh and all(e.promoter_id == promoter_id and e.kind == kind for e in fresh):
                return sorted(fresh, key=lambda e: e.id)
            raise Conflict(
                "this ledger reference was used for another movement",
                code="ledger_reference_conflict",
                fields={"reference": reference},
            ) from None
        created.append(entry)
    balance.available, balance.on_hold, balance.paid = after.available, after.on_hold, after.paid
    await balance.save(using_db=conn, update_fields=["available", "on_hold", "paid", "updated_at"])
    return created


async def clawback_commission(
    *,
    conn: BaseDBAsyncClient,
    commission: Commission,
    new_amount: Decimal,
    reason: str,
    reference: str,
) -> LedgerEntry | None:
    """Take back from `available` what a refund removed from a credited commission."""
    if CommissionStatus(commission.status) not in IN_LEDGER_STATUSES:
        raise Conflict(
            "only a settled or paid commission can be clawed back",
            code="commission_not_in_ledger",
            fields={"commission_id": commission.id, "status": commission.status},
        )
    amount = clawback_amount(settled_amount=commission.settled_amount, new_amount=new_amount)
    if amount == 0:
        return None
    entries = await post_movement(
        conn=conn,
        promoter_id=commission.promoter_id,  # type: ignore[attr-defined]
        program_id=commission.program_id,  # type: ignore[attr-defined]
        currency=commission.currency,
        kind=MovementKind.CLAWBACK.value,
        postings=[(Account.AVAILABLE.value, -amount)],
        reference=reference,
        commission_id=commission.id,
        memo=reason,
    )
    await Commission.filter(id=commission.id).using_db(conn).update(settled_amount=new_amount)
    commission.settled_amount = new_amount
    return entries[0]
