"""Access + refresh token pairs: refresh tokens rotate, are single-use, and live in families."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from server import clock
from server.auth import Principal, decode_token, encode_token
from server.config import Settings
from server.db import is_lock_conflict
from server.domain.errors import Unauthorized
from server.models import RefreshToken, StaffProgram, StaffUser


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


async def issue_token_pair(
    *,
    principal: Principal,
    settings: Settings,
    family: str | None = None,
    using_db: BaseDBAsyncClient | None = None,
) -> TokenPair:
    """A fresh access token and a recorded refresh token for `principal`.

    `family` is the sign-in the refresh token continues (a new sign-in starts its own).
    """
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
        family=family or refresh.jti,
        subject_kind=principal.kind,
        subject_id=principal.id,
        expires_at=clock.now() + timedelta(seconds=settings.refresh_token_ttl_seconds),
        using_db=using_db,
    )
    return TokenPair(access.token, refresh.token, access.expires_in)


async def confirm_principal(principal: Principal) -> Principal:
    """The caller as stored now: a disabled staff account is refused, roles and programs are
    today's."""
    if principal.kind != "staff":
        return principal
    staff = await StaffUser.filter(id=principal.id).only("id", "is_active", "roles").first()
    if staff is None or not staff.is_active:
        raise Unauthorized("account disabled", code="account_disabled")
    roles = frozenset(staff.roles)
    return Principal(
        kind="staff", id=principal.id, roles=roles, programs=await staff_programs(staff.id, roles)
    )


async def staff_programs(staff_id: int, roles: frozenset[str]) -> frozenset[int] | None:
    """The programs an account is limited to; None = every program (and always for admins)."""
    if "admin" in roles:
        return None
    ids = await StaffProgram.filter(staff_id=staff_id).values_list("program_id", flat=True)
    return frozenset(ids) if ids else None


async def refresh_token_pair(*, refresh_token: str, settings: Settings) -> TokenPair:
    """Exchange a refresh token for a new pair; a reused token revokes its whole family."""
    principal, claims = decode_token(
        refresh_token, secret=settings.jwt_secret, token_type="refresh"
    )
    principal = await confirm_principal(principal)
    try:
        return await _rotate(principal=principal, jti=claims["jti"], settings=settings)
    except Exception as error:
        if not is_lock_conflict(error):
            raise
    # MariaDB chose this refresh as a deadlock victim: another refresh of the same token was
    # under way, so this one is a reuse like any other, and the family goes.
    async with in_transaction() as conn:
        stored = await RefreshToken.filter(jti=claims["jti"]).using_db(conn).first()
        if stored is not None:
            await _revoke_family(stored, conn)
    raise Unauthorized("refresh token already used", code="token_reused")


async def _rotate(*, principal: Principal, jti: str, settings: Settings) -> TokenPair:
    reused = False
    async with in_transaction() as conn:
        stored = await RefreshToken.filter(jti=jti).using_db(conn).select_for_update().first()
        if stored is None or stored.revoked_at is not None:
            raise Unauthorized("refresh token revoked", code="token_revoked")
        if stored.used_at is not None:
            # Reuse means the token leaked: revoke the family, including the token its first
            # use issued (written in that use's transaction, so visible once its lock is ours).
            await _revoke_family(stored, conn)
            reused = True
        else:
            stored.used_at = clock.now()
            await stored.save(using_db=conn, update_fields=["used_at"])
            # Issued under the lock: a concurrent reuse waits for it and then revokes it too.
            pair = await issue_token_pair(
                principal=principal,
                settings=settings,
                family=stored.family or stored.jti,
                using_db=conn,
            )
    if reused:
        # Raised after the commit: the revocation must stick even though the call fails.
        raise Unauthorized("refresh token already used", code="token_reused")
    return pair


async def revoke_session(*, principal: Principal, refresh_token: str, settings: Settings) -> None:
    """Log out: revoke every refresh token of the sign-in `refresh_token` belongs to."""
    owner, claims = decode_token(refresh_token, secret=settings.jwt_secret, token_type="refresh")
    if owner.subject != principal.subject:
        raise Unauthorized("that refresh token is not yours", code="token_invalid")
    async with in_transaction() as conn:
        stored = (
            await RefreshToken.filter(jti=claims["jti"]).using_db(conn).select_for_update().first()
        )
        if stored is not None:
            await _revoke_family(stored, conn)


async def _revoke_family(stored: RefreshToken, conn: BaseDBAsyncClient) -> None:
    # Tokens issued before families existed have none: revoke all of their subject's, as then.
    if stored.family:
        live = RefreshToken.filter(family=stored.family, revoked_at=None)
    else:
        live = RefreshToken.filter(
            subject_kind=stored.subject_kind, subject_id=stored.subject_id, revoked_at=None
        )
    await live.using_db(conn).update(revoked_at=clock.now())
