"""Fraud holds on promoters: whether a promoter's money waits for staff, and the manual holds
staff place and lift (audited). What an open anomaly holds is the program's fraud_hold_scope."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from server import clock
from server.auth import Principal
from server.db import connection
from server.domain.errors import Conflict
from server.domain.fraud.anomaly_status import AnomalyStatus
from server.domain.fraud.holds import FraudHoldScope
from server.domain.payouts.withdrawals import check_reason
from server.models import Anomaly, Program, Promoter, PromoterHold
from server.services.access.audit import record_action
from server.services.ledger.postings import sql_rows
from server.services.promoters.queries import promoter_not_found

# Promoters looked up per statement when asking which of many are held.
_CHUNK = 1000


def held_promoter_sql(promoter_column: str) -> str:
    """An SQL condition true when the promoter `promoter_column` names is on fraud hold: a
    manual hold in force, or an open anomaly naming them in a program holding the promoter."""
    return (
        "(EXISTS (SELECT 1 FROM promoter_holds AS fh"
        f" WHERE fh.active_promoter_id = {promoter_column})"
        " OR EXISTS (SELECT 1 FROM anomalies AS fa JOIN programs AS fp ON fp.id = fa.program_id"
        f" WHERE fa.promoter_id = {promoter_column} AND fa.status = '{AnomalyStatus.OPEN.value}'"
        f" AND fp.fraud_hold_scope = '{FraudHoldScope.PROMOTER.value}'))"
    )


async def held_promoter_ids(
    promoter_ids: Iterable[int], *, conn: BaseDBAsyncClient | None = None
) -> set[int]:
    """Which of the promoters are on fraud hold."""
    ids = sorted({int(i) for i in promoter_ids})
    held: set[int] = set()
    for start in range(0, len(ids), _CHUNK):
        listed = ",".join(str(i) for i in ids[start : start + _CHUNK])
        rows = await sql_rows(
            conn or connection(),
            f"SELECT id FROM promoters WHERE id IN ({listed})"
            f" AND {held_promoter_sql('promoters.id')}",
        )
        held |= {int(row["id"]) for row in rows}
    return held


async def refuse_if_held(conn: BaseDBAsyncClient, promoter_id: int, *, what: str) -> None:
    """409 promoter_on_hold when the promoter is on fraud hold: `what` waits for staff."""
    if await held_promoter_ids([promoter_id], conn=conn):
        raise Conflict(
            f"the promoter is on fraud hold: {what} waits until staff lift it",
            code="promoter_on_hold",
            fields={"promoter_id": promoter_id},
        )


def _serialize_hold(hold: PromoterHold) -> dict[str, Any]:
    return {
        "id": hold.id,
        "reason": hold.reason,
        "placed_by": hold.placed_by,
        "placed_at": hold.placed_at,
        "lifted_by": hold.lifted_by,
        "lifted_at": hold.lifted_at,
        "lift_reason": hold.lift_reason,
        "in_force": hold.active_promoter_id is not None,
    }


async def hold_status(*, promoter_id: int) -> dict[str, Any]:
    """Whether the promoter is on fraud hold and why: manual holds (newest first) and the open
    anomalies naming them, under their program's fraud_hold_scope."""
    promoter = await Promoter.get_or_none(id=promoter_id).only("id", "program_id")
    if promoter is None:
        raise promoter_not_found()
    program = await Program.get(id=promoter.program_id).only("id", "fraud_hold_scope")  # type: ignore[attr-defined]
    holds = await PromoterHold.filter(promoter_id=promoter_id).order_by("-id")
    open_anomalies = await Anomaly.filter(
        promoter_id=promoter_id, status=AnomalyStatus.OPEN.value
    ).count()
    return {
        "promoter_id": promoter_id,
        "on_hold": bool(await held_promoter_ids([promoter_id])),
        "fraud_hold_scope": program.fraud_hold_scope,
        "open_anomalies": open_anomalies,
        "manual_hold_in_force": any(h.active_promoter_id is not None for h in holds),
        "manual_holds": [_serialize_hold(h) for h in holds],
    }


async def _locked(conn: BaseDBAsyncClient, promoter_id: int) -> Promoter:
    # Place and lift queue up on the promoter's row: the second sees what the first did.
    promoter = await Promoter.filter(id=promoter_id).using_db(conn).select_for_update().first()
    if promoter is None:
        raise promoter_not_found()
    return promoter


async def _audit(
    conn: BaseDBAsyncClient,
    action: str,
    hold: PromoterHold,
    *,
    actor: Principal,
    request_id: str | None,
) -> None:
    reason = hold.lift_reason if hold.active_promoter_id is None else hold.reason
    await record_action(
        actor=actor,
        action=action,
        target_kind="promoter",
        target_id=hold.promoter_id,  # type: ignore[attr-defined]
        program_id=hold.program_id,
        details={"hold_id": hold.id, "reason": reason},
        request_id=request_id,
        using_db=conn,
    )


async def place_hold(
    *, promoter_id: int, reason: str, actor: Principal, request_id: str | None = None
) -> dict[str, Any]:
    """Staff hold a promoter's money for review with a reason (409 if already held by hand)."""
    text = check_reason(reason)
    now = clock.now()
    async with in_transaction() as conn:
        promoter = await _locked(conn, promoter_id)
        already = Conflict("the promoter is already on a manual hold", code="promoter_already_held")
        if await PromoterHold.filter(active_promoter_id=promoter.id).using_db(conn).exists():
            raise already
        try:
            hold = await PromoterHold.create(
                program_id=promoter.program_id,  # type: ignore[attr-defined]
                promoter_id=promoter.id,
                reason=text,
                placed_by=actor.id,
                placed_at=now,
                active_promoter_id=promoter.id,
                using_db=conn,
            )
        except IntegrityError as exc:  # a concurrent hold won the unique key
            raise already from exc
        await _audit(conn, "promoter.hold", hold, actor=actor, request_id=request_id)
    return await hold_status(promoter_id=promoter_id)


async def lift_hold(
    *, promoter_id: int, reason: str, actor: Principal, request_id: str | None = None
) -> dict[str, Any]:
    """Staff lift the manual hold in force with a reason (409 if there is none); open
    anomalies may still hold the promoter until they are decided."""
    text = check_reason(reason)
    now = clock.now()
    async with in_transaction() as conn:
        promoter = await _locked(conn, promoter_id)
        hold = await PromoterHold.filter(active_promoter_id=promoter.id).using_db(conn).first()
        if hold is None:
            raise Conflict("the promoter is not on a manual hold", code="promoter_not_held")
        hold.lifted_by, hold.lifted_at, hold.lift_reason = actor.id, now, text
        hold.active_promoter_id = None
        await hold.save(
            using_db=conn,
            update_fields=["lifted_by", "lifted_at", "lift_reason", "active_promoter_id"],
        )
        await _audit(conn, "promoter.lift_hold", hold, actor=actor, request_id=request_id)
    return await hold_status(promoter_id=promoter_id)
