"""Access + refresh token pairs; refresh tokens rotate and are single-use."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from tortoise.transactions import in_transaction

from server import clock
from server.auth import Principal, decode_token, encode_token
from server.config import Settings
from server.domain.errors import Unauthorized
from server.models import RefreshToken, StaffUser


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int

    def to_dict(self) -> dict[str, object]:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
        }


async def issue_token_pair(*, principal: Principal, settings: Settings) -> TokenPair:
    """A fresh access token and a recorded refresh token for `principal`."""
    access = encode_token(
        principal,
        secret=settings.jwt_secret,
        token_type="access",
        ttl_seconds=settings.access_token_ttl_seconds,
    )
    refresh = encode_token(
        principal,
        secret=settings.jwt_secret,
        token_type="refresh",
        ttl_seconds=settings.refresh_token_ttl_seconds,
    )
    await RefreshToken.create(
        jti=refresh.jti,
        subject_kind=principal.kind,
        subject_id=principal.id,
        expires_at=clock.now() + timedelta(seconds=settings.refresh_token_ttl_seconds),
    )
    return TokenPair(access.token, refresh.token, access.expires_in)


async def refresh_token_pair(*, refresh_token: str, settings: Settings) -> TokenPair:
    """Exchange a refresh token for a new pair; a reused token revokes the whole family."""
    principal, claims = decode_token(
        refresh_token, secret=settings.jwt_secret, token_type="refresh"
    )
    reused = False
    async with in_transaction() as conn:
        stored = (
            await RefreshToken.filter(jti=claims["jti"]).using_db(conn).select_for_update().first()
        )
        if stored is None or stored.revoked_at is not None:
            raise Unauthorized("refresh token revoked", code="token_revoked")
        if stored.used_at is not None:
            # Reuse means the token leaked: revoke every live refresh token of the subject.
            await (
                RefreshToken.filter(
                    subject_kind=principal.kind, subject_id=principal.id, revoked_at=None
                )
                .using_db(conn)
                .update(revoked_at=clock.now())
            )
            reused = True
        else:
            stored.used_at = clock.now()
            await stored.save(using_db=conn, update_fields=["used_at"])
    if reused:
        # Raised after the commit: the revocation must stick even though the call fails.
        raise Unauthorized("refresh token already used", code="token_reused")
    if principal.kind == "staff":
        # Roles may have changed since the token was issued: re-read them.
        staff = await StaffUser.get_or_none(id=principal.id)
        if staff is None or not staff.is_active:
            raise Unauthorized("account disabled", code="account_disabled")
        principal = Principal(kind="staff", id=staff.id, roles=frozenset(staff.roles))
    return await issue_token_pair(principal=principal, settings=settings)
