"""Sub-accounts of internal programs: the merchant's own teams and campaigns, created by
staff and tracked like promoters (links, codes, UTM), with no WeChat sign-in and so no
withdrawals (docs/reports.md#internal-programs)."""

from __future__ import annotations

import secrets
from typing import Any

from tortoise.transactions import in_transaction

from server.auth import Principal
from server.config import Settings
from server.domain.errors import Conflict, NotFound
from server.domain.programs.settings import ProgramKind
from server.domain.promoters.status import PromoterStatus
from server.models import Program, Promoter, PromoterStatusChange, User
from server.services.access.audit import record_action
from server.services.promoters.status_changes import (
    change_promoter_status,
    lock_programs,
    transition_promoter,
)
from server.services.sharing import codes as share_codes
from server.services.sharing import links as share_links

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


async def get_sub_account(*, program_id: int | None, sub_account_id: int) -> Promoter:
    """One sub-account of an internal program (of `program_id`, or of its own program when
    None), else 404 sub_account_not_found."""
    if program_id is not None:
        await _internal_program(program_id)
        promoter = await Promoter.get_or_none(id=sub_account_id, program_id=program_id)
    else:
        promoter = await Promoter.get_or_none(id=sub_account_id)
        if promoter is not None:
            await _internal_program(promoter.program_id)  # type: ignore[attr-defined]
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


async def create_sub_account_link(
    *, program_id: int | None, sub_account_id: int, **parameters: Any
) -> tuple[Any, bool]:
    """A sub-account's share link for a site, channel, code and UTM: new (True) or the
    identical one it has (False)."""
    sub = await get_sub_account(program_id=program_id, sub_account_id=sub_account_id)
    return await share_links.create_link(
        user_id=sub.user_id,  # type: ignore[attr-defined]
        program_id=sub.program_id,  # type: ignore[attr-defined]
        **parameters,
    )


async def create_sub_account_code(
    *, program_id: int | None, sub_account_id: int, kind: str, code: str | None
) -> Any:
    """A referral or voucher code of a sub-account (custom text, or generated)."""
    sub = await get_sub_account(program_id=program_id, sub_account_id=sub_account_id)
    return await share_codes.create_code(
        user_id=sub.user_id,  # type: ignore[attr-defined]
        program_id=sub.program_id,  # type: ignore[attr-defined]
        kind=kind,
        code=code,
    )


async def sub_account_tools(*, sub_account_id: int, settings: Settings) -> dict[str, Any]:
    """A sub-account with its share links (H5 URL, mini-program path, UTM) and codes."""
    sub = await get_sub_account(program_id=None, sub_account_id=sub_account_id)
    user_id = sub.user_id  # type: ignore[attr-defined]
    program_id = sub.program_id  # type: ignore[attr-defined]
    links = await share_links.list_links(
        user_id=user_id, program_id=program_id, limit=share_links.MAX_PAGE_SIZE
    )
    codes = await share_codes.list_codes(
        user_id=user_id, program_id=program_id, limit=share_links.MAX_PAGE_SIZE
    )
    return {
        "sub_account": serialize_sub_account(sub),
        "links": [share_links.serialize_link(link, settings=settings) for link in links],
        "codes": [share_codes.serialize_code(code) for code in codes],
    }


async def disable_sub_account(
    *,
    sub_account_id: int,
    reason: str | None,
    actor: Principal,
    request_id: str | None = None,
) -> Promoter:
    """Disable a sub-account with a reason (its links and codes credit nobody from then on)."""
    await get_sub_account(program_id=None, sub_account_id=sub_account_id)
    return await change_promoter_status(
        promoter_id=sub_account_id,
        action="disable",
        reason=reason,
        actor=actor,
        request_id=request_id,
    )
