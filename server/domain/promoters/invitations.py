"""Invitations to a program: a code typed in the mini-program or a link carrying a token,
usable a limited number of times until it expires or staff revoke it (docs/program-settings.md)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from server.domain.errors import Conflict, ValidationFailed
from server.domain.instants import utc
from server.domain.sharing.codes import generate_code

MAX_USES = 10_000
CODE_LENGTH = 10
LINK_TOKEN_BYTES = 18  # 24 url-safe characters
MAX_NOTE_LENGTH = 128


class InvitationKind(StrEnum):
    CODE = "code"  # typed by the applicant
    LINK = "link"  # carried by a link the mini-program opens


class InvitationState(StrEnum):
    ACTIVE = "active"
    USED_UP = "used_up"
    EXPIRED = "expired"
    REVOKED = "revoked"


@dataclass(frozen=True, kw_only=True)
class InvitationTerms:
    """What staff asked for, checked."""

    kind: InvitationKind
    max_uses: int
    expires_at: datetime | None
    note: str


def check_invitation_terms(
    *, kind: str, max_uses: int, expires_at: datetime | None, note: str | None, now: datetime
) -> InvitationTerms:
    """The terms of a new invitation, or a 422 naming each broken one."""
    errors: dict[str, str] = {}
    if kind not in {k.value for k in InvitationKind}:
        errors["kind"] = "must be code or link"
    if not 1 <= max_uses <= MAX_USES:
        errors["max_uses"] = f"must be between 1 and {MAX_USES}"
    if expires_at is not None and expires_at.utcoffset() is None:
        errors["expires_at"] = "must carry a time zone"
    elif expires_at is not None and expires_at <= now:
        errors["expires_at"] = "must be in the future"
    text = (note or "").strip()
    if len(text) > MAX_NOTE_LENGTH:
        errors["note"] = f"at most {MAX_NOTE_LENGTH} characters"
    if errors:
        raise ValidationFailed("invalid invitation", code="invalid_invitation", fields=errors)
    return InvitationTerms(
        kind=InvitationKind(kind),
        max_uses=max_uses,
        expires_at=utc(expires_at) if expires_at else None,
        note=text,
    )


def new_invitation_code(kind: InvitationKind) -> str:
    """A code to type (unambiguous capitals and digits) or a link's unguessable token."""
    if kind is InvitationKind.CODE:
        return generate_code(CODE_LENGTH)
    return secrets.token_urlsafe(LINK_TOKEN_BYTES)


def normalize_invitation(kind: str, code: str) -> str:
    """Typed codes are case-insensitive; link tokens are exact."""
    return code.strip().upper() if kind == InvitationKind.CODE else code.strip()


def invitation_state(
    *,
    uses: int,
    max_uses: int,
    expires_at: datetime | None,
    revoked_at: datetime | None,
    now: datetime,
) -> InvitationState:
    if revoked_at is not None:
        return InvitationState.REVOKED
    if expires_at is not None and expires_at <= now:
        return InvitationState.EXPIRED
    if uses >= max_uses:
        return InvitationState.USED_UP
    return InvitationState.ACTIVE


def refuse_unusable(state: InvitationState) -> None:
    """The coded refusal of an invitation that cannot be redeemed now."""
    if state is InvitationState.ACTIVE:
        return
    messages = {
        InvitationState.REVOKED: "this invitation was revoked",
        InvitationState.EXPIRED: "this invitation has expired",
        InvitationState.USED_UP: "this invitation has been used as often as it allows",
    }
    raise Conflict(
        messages[state], code=f"invitation_{state.value}", fields={"invitation": state.value}
    )
