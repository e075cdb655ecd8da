"""An invitation is never used more often than it allows, even by applicants racing for its
last use (both databases; the MariaDB pass runs them truly at once)."""

from __future__ import annotations

import asyncio

from server.auth import Principal
from server.domain.errors import Conflict
from server.models import Invitation, InvitationRedemption, Promoter
from server.services.promoters.invitations import create_invitation
from tests.service.promoters.test_promoters import apply, new_program, new_user

STAFF = Principal(kind="staff", id=7, roles=frozenset({"staff"}))


async def test_applicants_racing_for_an_invitation_get_no_more_uses_than_it_has(
    db: str,
) -> None:
    program = await new_program("invite_only")
    invitation = await create_invitation(
        program_id=program.id, kind="code", max_uses=2, expires_at=None, note=None, actor=STAFF
    )
    users = [await new_user() for _ in range(5)]

    results = await asyncio.gather(
        *(apply(program, user, invitation=invitation.code) for user in users),
        return_exceptions=True,
    )

    admitted = [r for r in results if isinstance(r, dict)]
    refused = [r for r in results if isinstance(r, Conflict)]
    assert len(admitted) == 2 and all(r["promoter"]["status"] == "approved" for r in admitted)
    assert len(refused) == 3 and {r.code for r in refused} == {"invitation_used_up"}
    assert (await Invitation.get(id=invitation.id)).uses == 2
    assert await InvitationRedemption.filter(invitation_id=invitation.id).count() == 2
    assert await Promoter.filter(program_id=program.id).count() == 2
