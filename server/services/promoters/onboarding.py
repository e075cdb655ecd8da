"""Promoter onboarding: applying to a program, approved at once or queued for review
(the status life cycle after that is in status_changes.py)."""

from __future__ import annotations

from dataclasses import dataclass
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
from server.services.promoters.invitations import find_invitation, redeem_invitation

# Other parts look profiles up through this module; the reads themselves live with the queries.
from server.services.promoters.queries import get_active_promoter as get_active_promoter
from server.services.promoters.queries import (
    get_promoter_by_invite_code as get_promoter_by_invite_code,
)
from server.services.promoters.queries import serialize_own_profile
from server.services.promoters.status_changes import lock_programs, transition_promoter
from server.services.webhooks.outbox import record_promoter_event


async def _open_program(
    program_id: int, conn: BaseDBAsyncClient, *, tree_write: bool = False
) -> Program:
    program = await Program.filter(id=program_id).using_db(conn).first()
    if program is None:
        raise NotFound("no such program", code="program_not_found")
    if program.status != "active":
        raise Conflict("this program no longer accepts applications", code="program_archived")
    if tree_write or program.recruitment_mode in (
        RecruitmentMode.OPEN,
        RecruitmentMode.INVITE_ONLY,
    ):
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


@dataclass(frozen=True, kw_only=True)
class _Profile:
    """What a new profile is created with, and who creates it (the applicant or an admin)."""

    real_name: str | None
    phone: str | None
    agreement_version: str | None
    invite_code: str | None
    upline: Promoter | None
    actor: Principal
    approve_reason: str | None  # None: the profile waits for review


async def _lock_user(user_id: int, conn: BaseDBAsyncClient) -> User:
    # The user's row lock serializes one user's applications, so the one-live-profile
    # check cannot be raced. It is taken first on purpose: MySQL fixes a transaction's
    # snapshot at its first plain read, so every read after the lock sees what a competing
    # application committed. (A locking read of the profiles instead would gap-lock the
    # index and deadlock different users' inserts.)
    user = await User.filter(id=user_id).using_db(conn).select_for_update().first()
    if user is None:
        raise NotFound("no such user", code="user_not_found")
    return user


async def _create_profile(
    *,
    user: User,
    program: Program,
    profile: _Profile,
    details: dict[str, Any],
    conn: BaseDBAsyncClient,
    request_id: str | None,
) -> Promoter:
    """Insert the profile (applied, then approved when `approve_reason`), audited."""
    await refuse_disabled_applicant(
        program_id=program.id, user=user, phone=profile.phone, conn=conn
    )
    live = (
        await Promoter.filter(
            user_id=user.id, program_id=program.id, status__in=list(LIVE_STATUSES)
        )
        .using_db(conn)
        .first()
    )
    if live is not None:
        raise Conflict(
            "this user already has a profile in this program",
            code="already_applied",
            fields={"promoter_id": live.id, "status": live.status},
        )
    invite_code = profile.invite_code
    promoter = await Promoter.create(
        program_id=program.id,
        user_id=user.id,
        status=PromoterStatus.APPLIED.value,
        real_name=profile.real_name or None,
        phone=profile.phone or None,
        agreement_version=profile.agreement_version or None,
        applied_invite_code=normalize_code(invite_code) if invite_code else None,
        parent_id=profile.upline.id if profile.upline else None,
        using_db=conn,
    )
    if profile.agreement_version is not None:
        await record_acceptance(promoter=promoter, version=profile.agreement_version, conn=conn)
    await PromoterStatusChange.create(
        promoter_id=promoter.id,
        from_status=None,
        to_status=PromoterStatus.APPLIED.value,
        action="apply",
        actor_kind=profile.actor.kind,
        actor_id=profile.actor.id,
        using_db=conn,
    )
    await record_promoter_event(promoter, action="apply", conn=conn)
    await record_action(
        actor=profile.actor,
        action="promoter.apply" if profile.actor.kind == "user" else "promoter.create",
        target_kind="promoter",
        target_id=promoter.id,
        program_id=program.id,
        details={
            "recruitment_mode": program.recruitment_mode,
            "invite_code": promoter.applied_invite_code,
            "parent_id": promoter.parent_id,
            **details,
        },
        request_id=request_id,
        using_db=conn,
    )
    if profile.approve_reason is not None:
        await transition_promoter(
            promoter=promoter,
            action="approve",
            reason=profile.approve_reason,
            actor=None if profile.actor.kind == "user" else profile.actor,
            conn=conn,
            request_id=request_id,
        )
    return promoter


async def apply_to_program(
    *,
    user_id: int,
    program_id: int,
    real_name: str | None,
    phone: str | None,
    agreement_version: str | None,
    invite_code: str | None,
    invitation: str | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """Apply to a program; approved at once or queued for review by recruitment mode (an
    invitation from staff approves at once in any mode)."""
    async with in_transaction() as conn:
        user = await _lock_user(user_id, conn)
        program = await _open_program(program_id, conn, tree_write=invitation is not None)
        # Unusable codes are refused below, so "invited" can be read from their presence.
        invited = bool(invite_code) or invitation is not None
        approve_now = approves_at_once(program.recruitment_mode, invited=invited)
        requirements = ApplicationRequirements.from_program(program.requirements)
        check_applicant(
            requirements, real_name=real_name, phone=phone, agreement_version=agreement_version
        )
        staff_invitation = None
        if invitation is not None:
            staff_invitation = await find_invitation(
                program_id=program.id, code=invitation, conn=conn
            )
        upline = None
        if invite_code:
            upline = await _upline_for(
                program_id=program.id,
                invite_code=invite_code,
                applicant_user_id=user_id,
                conn=conn,
            )
        if staff_invitation is not None:
            reason = f"approved at once: invitation {staff_invitation.id}"
        elif approve_now:
            reason = f"approved at once: {program.recruitment_mode} recruitment"
        else:
            reason = None
        profile = _Profile(
            real_name=real_name,
            phone=phone,
            agreement_version=agreement_version,
            invite_code=invite_code,
            upline=upline,
            actor=Principal(kind="user", id=user_id, roles=frozenset({"promoter"})),
            approve_reason=reason,
        )
        details = {"invitation_id": staff_invitation.id} if staff_invitation else {}
        promoter = await _create_profile(
            user=user,
            program=program,
            profile=profile,
            details=details,
            conn=conn,
            request_id=request_id,
        )
        if staff_invitation is not None:
            await redeem_invitation(invitation=staff_invitation, promoter=promoter, conn=conn)
    await promoter.fetch_related("program")
    return {"promoter": serialize_own_profile(promoter), "requirements": requirements.to_dict()}


async def create_promoter(
    *,
    program_id: int,
    user_id: int,
    real_name: str | None,
    phone: str | None,
    parent_id: int | None,
    reason: str,
    actor: Principal,
    request_id: str | None = None,
) -> Promoter:
    """An admin makes a user an approved promoter of the program directly (audited); the
    user accepts the program's agreement before withdrawing or sharing, like everyone."""
    check_applicant(
        ApplicationRequirements(), real_name=real_name, phone=phone, agreement_version=None
    )
    async with in_transaction() as conn:
        user = await _lock_user(user_id, conn)
        program = await _open_program(program_id, conn, tree_write=True)
        upline = None
        if parent_id is not None:
            upline = (
                await Promoter.filter(
                    id=parent_id, program_id=program.id, status__in=list(ACTIVE_STATUSES)
                )
                .using_db(conn)
                .first()
            )
            if upline is None:
                raise ValidationFailed(
                    "the upline is not an approved promoter of this program",
                    code="invalid_upline",
                    fields={"parent_id": "unknown or inactive"},
                )
        profile = _Profile(
            real_name=real_name,
            phone=phone,
            agreement_version=None,
            invite_code=None,
            upline=upline,
            actor=actor,
            approve_reason=f"created by an admin: {reason}",
        )
        promoter = await _create_profile(
            user=user,
            program=program,
            profile=profile,
            details={"reason": reason},
            conn=conn,
            request_id=request_id,
        )
    await promoter.fetch_related("program")
    return promoter
