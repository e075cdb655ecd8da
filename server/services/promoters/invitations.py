"""Invitations staff create so an invite-only program can start, and their redemption when
an applicant applies with one; creating and revoking are audited."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from server import clock
from server.auth import Principal
from server.config import Settings
from server.domain.errors import Conflict, NotFound, ValidationFailed
from server.domain.pagination import check_page_limit, next_cursor
from server.domain.promoters.invitations import (
    InvitationKind,
    InvitationState,
    check_invitation_terms,
    invitation_state,
    new_invitation_code,
    normalize_invitation,
    refuse_unusable,
)
from server.models import Invitation, InvitationRedemption, Program, Promoter
from server.services.access.audit import record_action

CODE_ATTEMPTS = 5


def _not_found() -> NotFound:
    return NotFound("no such invitation", code="invitation_not_found")


def _state(invitation: Invitation) -> InvitationState:
    return invitation_state(
        uses=invitation.uses,
        max_uses=invitation.max_uses,
        expires_at=invitation.expires_at,
        revoked_at=invitation.revoked_at,
        now=clock.now(),
    )


async def create_invitation(
    *,
    program_id: int,
    kind: str,
    max_uses: int,
    expires_at: datetime | None,
    note: str | None,
    actor: Principal,
    request_id: str | None = None,
) -> Invitation:
    """A new invitation to the program (audited); its code or token is drawn at random."""
    terms = check_invitation_terms(
        kind=kind, max_uses=max_uses, expires_at=expires_at, note=note, now=clock.now()
    )
    for _ in range(CODE_ATTEMPTS):
        try:
            async with in_transaction() as conn:
                program = await Program.filter(id=program_id).using_db(conn).first()
                if program is None:
                    raise NotFound("no such program", code="program_not_found")
                invitation = await Invitation.create(
                    program_id=program.id,
                    kind=terms.kind.value,
                    code=new_invitation_code(terms.kind),
                    max_uses=terms.max_uses,
                    note=terms.note,
                    expires_at=terms.expires_at,
                    created_by=actor.id,
                    created_at=clock.now(),
                    using_db=conn,
                )
                await record_action(
                    actor=actor,
                    action="invitation.create",
                    target_kind="invitation",
                    target_id=invitation.id,
                    program_id=program.id,
                    details={
                        "kind": terms.kind.value,
                        "max_uses": terms.max_uses,
                        "expires_at": terms.expires_at.isoformat() if terms.expires_at else None,
                        "note": terms.note,
                    },
                    request_id=request_id,
                    using_db=conn,
                )
            return invitation
        except IntegrityError:
            continue  # a drawn code already exists in the program: draw again
    raise Conflict("could not draw a unique invitation code", code="invitation_code_exhausted")


async def get_invitation(*, invitation_id: int) -> Invitation:
    invitation = await Invitation.get_or_none(id=invitation_id)
    if invitation is None:
        raise _not_found()
    return invitation


async def list_invitations(
    *, program_id: int, cursor: int | None = None, limit: int = 50
) -> list[Invitation]:
    """The program's invitations, newest first, paged by id."""
    check_page_limit(limit)
    query = Invitation.filter(program_id=program_id)
    if cursor is not None:
        query = query.filter(id__lt=cursor)
    return await query.order_by("-id").limit(limit)


async def revoke_invitation(
    *, invitation_id: int, actor: Principal, request_id: str | None = None
) -> Invitation:
    """Revoke an invitation: it admits nobody after this (audited; revoking twice is 409)."""
    async with in_transaction() as conn:
        invitation = (
            await Invitation.filter(id=invitation_id).using_db(conn).select_for_update().first()
        )
        if invitation is None:
            raise _not_found()
        if invitation.revoked_at is not None:
            raise Conflict("this invitation is already revoked", code="invitation_revoked")
        invitation.revoked_at = clock.now()
        invitation.revoked_by = actor.id
        await invitation.save(using_db=conn, update_fields=["revoked_at", "revoked_by"])
        await record_action(
            actor=actor,
            action="invitation.revoke",
            target_kind="invitation",
            target_id=invitation.id,
            program_id=invitation.program_id,  # type: ignore[attr-defined]
            details={"uses": invitation.uses, "max_uses": invitation.max_uses},
            request_id=request_id,
            using_db=conn,
        )
    return invitation


async def find_invitation(*, program_id: int, code: str, conn: BaseDBAsyncClient) -> Invitation:
    """The program's invitation named by `code` (a typed code or a link token), redeemable now."""
    raw = code.strip()
    candidates = await Invitation.filter(
        program_id=program_id, code__in=sorted({raw, raw.upper()})
    ).using_db(conn)
    # MariaDB compares case-insensitively: a link token must match exactly.
    found = [row for row in candidates if row.code == normalize_invitation(row.kind, raw)]
    if not found:
        raise ValidationFailed(
            "this invitation does not exist in this program",
            code="invalid_invitation",
            fields={"invitation": "unknown"},
        )
    refuse_unusable(_state(found[0]))
    return found[0]


async def redeem_invitation(
    *, invitation: Invitation, promoter: Promoter, conn: BaseDBAsyncClient
) -> None:
    """Count one use of the invitation for the promoter; 409 when it was used up meanwhile."""
    # One guarded UPDATE: two applicants racing for the last use cannot both get it.
    taken = (
        await Invitation.filter(id=invitation.id, uses__lt=F("max_uses"), revoked_at=None)
        .using_db(conn)
        .update(uses=F("uses") + 1)
    )
    if not taken:
        refuse_unusable(InvitationState.USED_UP)
    await InvitationRedemption.create(
        invitation_id=invitation.id, promoter_id=promoter.id, redeemed_at=clock.now(), using_db=conn
    )


def serialize_invitation(invitation: Invitation, *, settings: Settings) -> dict[str, Any]:
    """An invitation for staff: its code or link, its uses and whether it admits anyone now."""
    body: dict[str, Any] = {
        "id": invitation.id,
        "program_id": invitation.program_id,  # type: ignore[attr-defined]
        "kind": invitation.kind,
        "code": invitation.code,
        "max_uses": invitation.max_uses,
        "uses": invitation.uses,
        "note": invitation.note,
        "state": _state(invitation).value,
        "expires_at": invitation.expires_at,
        "created_by": invitation.created_by,
        "created_at": invitation.created_at,
        "revoked_at": invitation.revoked_at,
    }
    if invitation.kind == InvitationKind.LINK:
        # The mini-program page opened with this query applies with the token.
        body["mp_path"] = (
            f"{settings.mp_share_page}?program_id={body['program_id']}&invitation={invitation.code}"
        )
    return body


def serialize_invitation_page(
    invitations: list[Invitation], *, limit: int, settings: Settings
) -> dict[str, Any]:
    return {
        "items": [serialize_invitation(row, settings=settings) for row in invitations],
        "next_cursor": next_cursor([row.id for row in invitations], limit),
    }
