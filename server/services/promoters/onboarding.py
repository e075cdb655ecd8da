"""Promoter onboarding: applying to a program, approved at once or queued for review
(the status life cycle after that is in status_changes.py)."""

from __future__ import annotations

from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from server.auth import Principal
from server.domain.errors import Conflict, Forbidden, NotFound, ValidationFailed
from server.domain.promoters.application import (
    ApplicationRequirements,
    RecruitmentMode,
    approves_at_once,
    check_applicant,
    phone_variants,
)
from server.domain.promoters.status import ACTIVE_STATUSES, LIVE_STATUSES, PromoterStatus
from server.domain.sharing.codes import normalize_code
from server.models import Program, Promoter, PromoterStatusChange, User
from server.services.access.audit import record_action
from server.services.promoters.agreements import record_acceptance

# Other parts look profiles up through this module; the reads themselves live with the queries.
from server.services.promoters.queries import get_active_promoter as get_active_promoter
from server.services.promoters.queries import (
    get_promoter_by_invite_code as get_promoter_by_invite_code,
)
from server.services.promoters.queries import serialize_own_profile
from server.services.promoters.status_changes import lock_programs, transition_promoter


async def _open_program(program_id: int, conn: BaseDBAsyncClient) -> Program:
    program = await Program.filter(id=program_id).using_db(conn).first()
    if program is None:
        raise NotFound("no such program", code="program_not_found")
    if program.status != "active":
        raise Conflict("this program no longer accepts applications", code="program_archived")
    if program.recruitment_mode in (RecruitmentMode.OPEN, RecruitmentMode.INVITE_ONLY):
        # This application may join the tree at once: take the program lock now, as every
        # tree write does first (hierarchy.py), so lock order is always program → promoters.
        await lock_programs([program.id], conn)
    return program


async def _upline_for(
    *, program_id: int, invite_code: str, applicant_user_id: int, conn: BaseDBAsyncClient
) -> Promoter:
    code = normalize_code(invite_code)
    upline = (
        await Promoter.filter(
            program_id=program_id, invite_code=code, status__in=list(ACTIVE_STATUSES)
        )
        .using_db(conn)
        .first()
    )
    if upline is None:
        raise ValidationFailed(
            "the invite code does not name an approved promoter of this program",
            code="invalid_invite_code",
            fields={"invite_code": "unknown or inactive"},
        )
    if upline.user_id == applicant_user_id:
        raise ValidationFailed(
            "you cannot be your own upline",
            code="self_invite",
            fields={"invite_code": "this is your own code"},
        )
    return upline


async def refuse_disabled_applicant(
    *, program_id: int, user: User, phone: str | None, conn: BaseDBAsyncClient
) -> None:
    """403 applicant_disabled when the program disabled a promoter with this WeChat identity
    (the user or its openid), unionid or phone: a disabled promoter stays out."""
    same = Q(user_id=user.id) | Q(user__openid=user.openid)
    if user.unionid:
        same |= Q(user__unionid=user.unionid)
    if variants := phone_variants(phone):
        same |= Q(phone__in=sorted(variants))
    disabled = (
        await Promoter.filter(Q(program_id=program_id, status=PromoterStatus.DISABLED.value) & same)
        .using_db(conn)
        .exists()
    )
    if disabled:
        raise Forbidden(
            "this program has disabled you as a promoter and does not take you back",
            code="applicant_disabled",
        )


async def apply_to_program(
    *,
    user_id: int,
    program_id: int,
    real_name: str | None,
    phone: str | None,
    agreement_version: str | None,
    invite_code: str | None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """Apply to a program; approved at once or queued for review by recruitment mode."""
    applicant = Principal(kind="user", id=user_id, roles=frozenset({"promoter"}))
    async with in_transaction() as conn:
        # The user's row lock serializes one user's applications, so the one-live-profile
        # check below cannot be raced. It is taken first on purpose: MySQL fixes a
        # transaction's snapshot at its first plain read, so every read after the lock
        # sees what a competing application committed. (A locking read of the profiles
        # instead would gap-lock the index and deadlock different users' inserts.)
        user = await User.filter(id=user_id).using_db(conn).select_for_update().first()
        if user is None:
            raise NotFound("no such user", code="user_not_found")
        program = await _open_program(program_id, conn)
        # An unusable invite code is refused below, so "invited" can be read from its presence.
        approve_now = approves_at_once(program.recruitment_mode, invited=bool(invite_code))
        requirements = ApplicationRequirements.from_program(program.requirements)
        check_applicant(
            requirements, real_name=real_name, phone=phone, agreement_version=agreement_version
        )
        await refuse_disabled_applicant(program_id=program.id, user=user, phone=phone, conn=conn)
        upline = None
        if invite_code:
            upline = await _upline_for(
                program_id=program.id,
                invite_code=invite_code,
                applicant_user_id=user_id,
                conn=conn,
            )
        live = (
            await Promoter.filter(
                user_id=user_id, program_id=program.id, status__in=list(LIVE_STATUSES)
            )
            .using_db(conn)
            .first()
        )
        if live is not None:
            raise Conflict(
                "you already have a profile in this program",
                code="already_applied",
                fields={"promoter_id": live.id, "status": live.status},
            )
        promoter = await Promoter.create(
            program_id=program.id,
            user_id=user_id,
            status=PromoterStatus.APPLIED.value,
            real_name=real_name or None,
            phone=phone or None,
            agreement_version=agreement_version or None,
            applied_invite_code=normalize_code(invite_code) if invite_code else None,
            parent_id=upline.id if upline else None,
            using_db=conn,
        )
        if requirements.agreement_version is not None:
            await record_acceptance(
                promoter=promoter, version=requirements.agreement_version, conn=conn
            )
        await PromoterStatusChange.create(
            promoter_id=promoter.id,
            from_status=None,
            to_status=PromoterStatus.APPLIED.value,
            action="apply",
            actor_kind="user",
            actor_id=user_id,
            using_db=conn,
        )
        await record_action(
            actor=applicant,
            action="promoter.apply",
            target_kind="promoter",
            target_id=promoter.id,
            program_id=program.id,
            details={
                "recruitment_mode": program.recruitment_mode,
                "invite_code": promoter.applied_invite_code,
                "parent_id": promoter.parent_id,
            },
            request_id=request_id,
            using_db=conn,
        )
        if approve_now:
            await transition_promoter(
                promoter=promoter,
                action="approve",
                reason=f"approved at once: {program.recruitment_mode} recruitment",
                actor=None,
                conn=conn,
                request_id=request_id,
            )
    await promoter.fetch_related("program")
    return {"promoter": serialize_own_profile(promoter), "requirements": requirements.to_dict()}
