"""The staff-driven status life cycle of promoters: every change goes through
PROMOTER_LIFECYCLE and writes the status, a PromoterStatusChange row and an audit entry."""

from __future__ import annotations

from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from server import clock
from server.auth import Principal
from server.domain.errors import Conflict, FenxiaoError, ValidationFailed
from server.domain.promoters.status import ACTIVE_STATUSES, PROMOTER_LIFECYCLE, PromoterStatus
from server.domain.sharing.codes import generate_code
from server.models import Program, Promoter, PromoterStatusChange, ShareCode
from server.services.access.audit import record_action
from server.services.promoters import hierarchy
from server.services.promoters.queries import STAFF_ACTIONS, promoter_not_found
from server.services.sharing.quotas import is_reserved
from server.services.webhooks.outbox import record_promoter_event

BULK_ACTIONS = frozenset({"approve", "reject"})
# Punitive or final decisions must say why: the promoter sees the reason, auditors too.
REASON_REQUIRED = frozenset({"reject", "suspend", "disable"})
MAX_BULK_SIZE = 100
INVITE_CODE_ATTEMPTS = 8


async def lock_programs(program_ids: list[int], conn: BaseDBAsyncClient) -> None:
    """Lock the programs' rows in id order: every tree write takes its program's lock first."""
    # `.only()`, not `.values_list()`: tortoise silently drops FOR UPDATE from the latter.
    await (
        Program.filter(id__in=sorted(set(program_ids)))
        .using_db(conn)
        .select_for_update()
        .order_by("id")
        .only("id")
    )


async def _lock_programs_of(promoter_ids: list[int], conn: BaseDBAsyncClient) -> None:
    """Lock the programs of promoters about to be approved, before the promoters themselves."""
    program_ids = (
        await Promoter.filter(id__in=promoter_ids)
        .using_db(conn)
        .values_list("program_id", flat=True)
    )
    if program_ids:
        await lock_programs(list(program_ids), conn)


async def _assign_invite_code(promoter: Promoter, conn: BaseDBAsyncClient) -> None:
    """Give the promoter a fresh invite code, unique in the program, and save the row."""
    for _ in range(INVITE_CODE_ATTEMPTS):
        candidate = generate_code()
        # Typed codes must lead to one promoter: stay clear of referral/voucher codes too,
        # and of the store's own coupon codes.
        codes = ShareCode.filter(program_id=promoter.program_id, normalized=candidate)
        if await codes.using_db(conn).exists() or await is_reserved(
            program_id=promoter.program_id, normalized=candidate, conn=conn
        ):
            continue
        promoter.invite_code = candidate
        try:
            # A savepoint, so a collision with another promoter's code (the unique index
            # has the last word) rolls back this attempt only, not the approval.
            async with in_transaction() as attempt:
                await promoter.save(using_db=attempt)
            return
        except IntegrityError:
            continue
    raise Conflict("could not allocate a unique invite code", code="invite_code_exhausted")


async def _settle_upline(
    promoter: Promoter, *, without_upline: bool, conn: BaseDBAsyncClient
) -> dict[str, Any]:
    """Check the upline a promoter is about to be attached under; returns audit details.

    If the upline named at application is no longer approved, approval is refused
    (`upline_not_active`) unless staff explicitly approve without an upline: silently
    dropping it would change who earns on this promoter's sales.
    """
    details: dict[str, Any] = {"parent_id": promoter.parent_id}
    if promoter.parent_id is not None:
        upline = (
            await Promoter.filter(id=promoter.parent_id).using_db(conn).select_for_update().first()
        )
        if upline is None or upline.status not in ACTIVE_STATUSES:
            if not without_upline:
                raise Conflict(
                    "the upline named at application is no longer approved",
                    code="upline_not_active",
                    fields={
                        "parent_id": promoter.parent_id,
                        "parent_status": upline.status if upline else None,
                    },
                )
            details = {"parent_id": None, "dropped_parent_id": promoter.parent_id}
            promoter.parent_id = None
    return details


async def transition_promoter(
    *,
    promoter: Promoter,
    action: str,
    reason: str | None,
    actor: Principal | None,
    conn: BaseDBAsyncClient,
    request_id: str | None,
    without_upline: bool = False,
) -> None:
    """Move a locked promoter row along the life cycle, with history and audit."""
    current = PromoterStatus(promoter.status)
    target = PROMOTER_LIFECYCLE.target(current, action)
    details: dict[str, Any] = {"from": current.value, "to": target.value}
    if reason:
        details["reason"] = reason
    if action == "approve":
        details.update(await _settle_upline(promoter, without_upline=without_upline, conn=conn))
    promoter.status = target.value
    if action in ("approve", "reject"):
        promoter.decided_at = clock.now()
    if action == "reject":
        promoter.reject_reason = reason
    await promoter.save(using_db=conn)
    if action == "approve":
        await hierarchy.attach_promoter(
            promoter_id=promoter.id,
            parent_id=promoter.parent_id,
            program_id=promoter.program_id,
            conn=conn,
        )
        await _assign_invite_code(promoter, conn)
        details["invite_code"] = promoter.invite_code
    await PromoterStatusChange.create(
        promoter_id=promoter.id,
        from_status=current.value,
        to_status=target.value,
        action=action,
        reason=reason,
        actor_kind=actor.kind if actor else "system",
        actor_id=actor.id if actor else None,
        using_db=conn,
    )
    await record_promoter_event(promoter, action=action, conn=conn)
    await record_action(
        actor=actor,
        action=f"promoter.{action}",
        target_kind="promoter",
        target_id=promoter.id,
        program_id=promoter.program_id,
        details=details,
        request_id=request_id,
        using_db=conn,
    )


def _check_staff_action(action: str, reason: str | None) -> None:
    if action not in STAFF_ACTIONS:
        raise ValidationFailed(
            f"unknown action {action!r}",
            code="unknown_action",
            fields={"action": f"one of {', '.join(sorted(STAFF_ACTIONS))}"},
        )
    if action in REASON_REQUIRED and not reason:
        raise ValidationFailed(
            f"a reason is required to {action}",
            code="reason_required",
            fields={"reason": "required"},
        )


async def locked_promoter(*, promoter_id: int, conn: BaseDBAsyncClient) -> Promoter:
    """The promoter row, locked for update in `conn`'s transaction (404 if missing)."""
    # The row lock makes concurrent decisions on one promoter queue up: the second one
    # sees the first one's status and gets an IllegalTransition.
    promoter = await Promoter.filter(id=promoter_id).using_db(conn).select_for_update().first()
    if promoter is None:
        raise promoter_not_found()
    return promoter


async def change_promoter_status(
    *,
    promoter_id: int,
    action: str,
    reason: str | None,
    actor: Principal,
    request_id: str | None = None,
    without_upline: bool = False,
) -> Promoter:
    """Approve, reject, suspend, reinstate or disable one promoter (staff, audited)."""
    _check_staff_action(action, reason)
    async with in_transaction() as conn:
        if action == "approve":
            await _lock_programs_of([promoter_id], conn)
        promoter = await locked_promoter(promoter_id=promoter_id, conn=conn)
        await transition_promoter(
            promoter=promoter,
            action=action,
            reason=reason,
            actor=actor,
            conn=conn,
            request_id=request_id,
            without_upline=without_upline,
        )
    return promoter


async def bulk_change_status(
    *,
    action: str,
    promoter_ids: list[int],
    reason: str | None,
    actor: Principal,
    request_id: str | None = None,
) -> list[Promoter]:
    """Approve or reject many applications at once: all of them, or none with each failure named."""
    if action not in BULK_ACTIONS:
        raise ValidationFailed(
            f"bulk {action!r} is not offered",
            code="unknown_action",
            fields={"action": "approve or reject"},
        )
    _check_staff_action(action, reason)
    ids = sorted(set(promoter_ids))
    if not ids or len(ids) > MAX_BULK_SIZE:
        raise ValidationFailed(
            "give between 1 and 100 promoter ids",
            code="validation_failed",
            fields={"ids": f"1 to {MAX_BULK_SIZE} ids"},
        )
    failures: dict[str, dict[str, Any]] = {}
    changed: list[Promoter] = []
    async with in_transaction() as conn:
        if action == "approve":
            await _lock_programs_of(ids, conn)
        # Ascending id order: two overlapping bulk actions lock rows in the same order.
        for promoter_id in ids:
            try:
                promoter = await locked_promoter(promoter_id=promoter_id, conn=conn)
                await transition_promoter(
                    promoter=promoter,
                    action=action,
                    reason=reason,
                    actor=actor,
                    conn=conn,
                    request_id=request_id,
                )
            except FenxiaoError as exc:
                failures[str(promoter_id)] = {"code": exc.code, "message": exc.message}
                continue
            changed.append(promoter)
        if failures:
            # Raised inside the transaction so that the successful ones roll back too.
            raise Conflict(
                f"{len(failures)} of {len(ids)} promoters could not be changed; nothing was",
                code="bulk_action_failed",
                fields=failures,
            )
    return changed
