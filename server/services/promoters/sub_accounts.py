"""Sub-accounts of internal programs: the merchant's own teams and campaigns, created by
staff and tracked like promoters (links, codes, UTM), with no WeChat sign-in and so no
withdrawals (docs/reports.md#internal-programs)."""

from __future__ import annotations

import secrets
from typing import Any

from tortoise.transactions import in_transaction

from server.auth import Principal
from server.domain.errors import Conflict, NotFound
from server.domain.programs.settings import ProgramKind
from server.domain.promoters.status import PromoterStatus
from server.models import Program, Promoter, PromoterStatusChange, User
from server.services.access.audit import record_action
from server.services.promoters.status_changes import lock_programs, transition_promoter

# Sub-accounts' users belong to no mini-program: no WeChat login can ever return this appid.
SUB_ACCOUNT_APPID = "internal"


async def _internal_program(program_id: int) -> Program:
    program = await Program.get_or_none(id=program_id)
    if program is None:
        raise NotFound("no such program", code="program_not_found")
    if program.kind != ProgramKind.INTERNAL.value:
        raise Conflict(
            "sub-accounts belong to internal programs",
            code="program_not_internal",
            fields={"kind": program.kind},
        )
    return program


async def create_sub_account(
    *, program_id: int, name: str, actor: Principal, request_id: str | None = None
) -> Promoter:
    """A named, approved sub-account at the root of an internal program's tree (audited)."""
    program = await _internal_program(program_id)
    async with in_transaction() as conn:
        await lock_programs([program.id], conn)
        user = await User.create(
            appid=SUB_ACCOUNT_APPID,
            openid=f"sub:{program.id}:{secrets.token_hex(12)}",
            nickname=name[:64],
            using_db=conn,
        )
        promoter = await Promoter.create(
            program_id=program.id,
            user_id=user.id,
            status=PromoterStatus.APPLIED.value,
            real_name=name,
            using_db=conn,
        )
        await PromoterStatusChange.create(
            promoter_id=promoter.id,
            from_status=None,
            to_status=PromoterStatus.APPLIED.value,
            action="apply",
            reason="sub-account created by staff",
            actor_kind="staff",
            actor_id=actor.id,
            using_db=conn,
        )
        await record_action(
            actor=actor,
            action="sub_account.create",
            target_kind="promoter",
            target_id=promoter.id,
            program_id=program.id,
            details={"name": name},
            request_id=request_id,
            using_db=conn,
        )
        await transition_promoter(
            promoter=promoter,
            action="approve",
            reason="sub-account of an internal program",
            actor=actor,
            conn=conn,
            request_id=request_id,
        )
    return promoter


async def get_sub_account(*, program_id: int, sub_account_id: int) -> Promoter:
    """One sub-account of an internal program, else 404 sub_account_not_found."""
    await _internal_program(program_id)
    promoter = await Promoter.get_or_none(id=sub_account_id, program_id=program_id)
    if promoter is None:
        raise NotFound("no such sub-account", code="sub_account_not_found")
    return promoter


async def list_sub_accounts(*, program_id: int) -> list[Promoter]:
    """The internal program's sub-accounts, oldest first."""
    await _internal_program(program_id)
    return await Promoter.filter(program_id=program_id).order_by("id")


def serialize_sub_account(promoter: Promoter) -> dict[str, Any]:
    """A sub-account as staff see it."""
    return {
        "id": promoter.id,
        "program_id": promoter.program_id,  # type: ignore[attr-defined]
        "name": promoter.real_name,
        "status": promoter.status,
        "invite_code": promoter.invite_code,
        "user_id": promoter.user_id,  # type: ignore[attr-defined]
        "created_at": promoter.applied_at.isoformat() if promoter.applied_at else None,
    }
