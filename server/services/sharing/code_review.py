"""Staff review of the code texts promoters choose (programs whose custom codes are
`reviewed`): a pending code credits nobody until approved; a rejected one never does."""

from __future__ import annotations

from tortoise.transactions import in_transaction

from server import clock
from server.auth import Principal
from server.domain.errors import Conflict, NotFound, ValidationFailed
from server.domain.pagination import MAX_PAGE_SIZE
from server.domain.sharing.rules import CODE_REVIEW, CodeReview
from server.models import ShareCode
from server.services.access.audit import record_action
from server.services.sharing.codes import deactivate_with_aliases
from server.services.sharing.quotas import is_reserved


async def list_codes_for_review(
    *,
    program_id: int,
    status: str = CodeReview.PENDING.value,
    cursor: int | None = None,
    limit: int = 50,
) -> list[ShareCode]:
    """A program's codes and aliases in one review state, oldest first."""
    if status not in {state.value for state in CodeReview}:
        raise ValidationFailed(
            "unknown review status",
            code="invalid_status",
            fields={"status": [state.value for state in CodeReview]},
        )
    query = ShareCode.filter(program_id=program_id, review_status=status)
    if cursor is not None:
        query = query.filter(id__gt=cursor)
    return await query.order_by("id").limit(min(limit, MAX_PAGE_SIZE))


async def _review(
    *, code_id: int, action: str, actor: Principal, reason: str | None, request_id: str | None
) -> ShareCode:
    async with in_transaction() as conn:
        code = await ShareCode.filter(id=code_id).using_db(conn).select_for_update().first()
        if code is None:
            raise NotFound("no such code", code="code_not_found", fields={"code_id": code_id})
        before = CodeReview(code.review_status)
        after = CODE_REVIEW.target(before, action)
        if after == CodeReview.APPROVED and await is_reserved(
            program_id=code.program_id, normalized=code.normalized, conn=conn
        ):
            raise Conflict(
                "the store reserved this code for itself: reject it",
                code="code_reserved",
                fields={"code": code.code},
            )
        now = clock.now()
        code.review_status, code.reviewed_at = after.value, now
        await code.save(using_db=conn, update_fields=["review_status", "reviewed_at"])
        aliases = 0
        if after == CodeReview.REJECTED:
            # Its text stays taken (a rejected squat must not be retried under another case);
            # its aliases go with it, and those waiting for review are decided with it.
            aliases = await deactivate_with_aliases(code, conn=conn)
            await (
                ShareCode.filter(alias_of_id=code.id, review_status=CodeReview.PENDING.value)
                .using_db(conn)
                .update(review_status=CodeReview.REJECTED.value, reviewed_at=now)
            )
        await record_action(
            actor=actor,
            action=f"share_code.{action}",
            target_kind="share_code",
            target_id=code.id,
            program_id=code.program_id,
            details={
                "code": code.code,
                "promoter_id": code.promoter_id,  # type: ignore[attr-defined]
                "before": before.value,
                "after": after.value,
                "reason": reason,
                "aliases_deactivated": aliases,
            },
            request_id=request_id,
            using_db=conn,
        )
    return code


async def approve_code(
    *, code_id: int, actor: Principal, request_id: str | None = None
) -> ShareCode:
    """Approve a pending code or alias: from now on it credits its promoter (audited)."""
    return await _review(
        code_id=code_id, action="approve", actor=actor, reason=None, request_id=request_id
    )


async def reject_code(
    *, code_id: int, actor: Principal, reason: str, request_id: str | None = None
) -> ShareCode:
    """Reject a pending code or alias with a reason: it is deactivated for good (audited)."""
    return await _review(
        code_id=code_id, action="reject", actor=actor, reason=reason, request_id=request_id
    )
