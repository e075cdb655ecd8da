"""Console sign-ins: the staff login (same lockout and roles) held as a revocable session."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from dataclasses import dataclass

from server.auth import Principal, decode_token
from server.config import Settings
from server.domain.errors import Unauthorized
from server.models import RefreshToken
from server.services.access.staff import login_staff
from server.services.access.tokens import revoke_session


@dataclass(frozen=True)
class ConsoleSession:
    """A signed-in console: the token its cookie carries, who it is, and its CSRF token."""

    token: str
    principal: Principal
    csrf_token: str


def csrf_token_for(*, session_id: str, secret: str) -> str:
    """The CSRF token of one session: derived, so nothing more is stored."""
    digest = hmac.new(secret.encode(), f"console-csrf:{session_id}".encode(), hashlib.sha256)
    return digest.hexdigest()[:40]


async def sign_in_console(
    *, username: str, password: str, client_address: str | None, settings: Settings
) -> ConsoleSession:
    """Check the password as the API login does; the session lasts the console's TTL."""
    console_settings = dataclasses.replace(
        settings, refresh_token_ttl_seconds=settings.console_session_ttl_seconds
    )
    pair = await login_staff(
        username=username,
        password=password,
        client_address=client_address,
        settings=console_settings,
    )
    # The sign-in's refresh token is the session: revocable, expiring, never rotated here.
    return await open_console_session(token=pair.refresh_token, settings=settings)


async def open_console_session(*, token: str, settings: Settings) -> ConsoleSession:
    """The session a cookie names, while it is neither revoked, used nor expired."""
    principal, claims = decode_token(token, secret=settings.jwt_secret, token_type="refresh")
    stored = await RefreshToken.filter(jti=claims["jti"]).only("used_at", "revoked_at").first()
    if stored is None or stored.revoked_at is not None or stored.used_at is not None:
        raise Unauthorized("the console session has ended", code="session_ended")
    if principal.kind != "staff":
        raise Unauthorized("not a staff session", code="token_invalid")
    return ConsoleSession(
        token=token,
        principal=principal,
        csrf_token=csrf_token_for(session_id=claims["jti"], secret=settings.jwt_secret),
    )


async def sign_out_console(*, session: ConsoleSession, settings: Settings) -> None:
    """Revoke the session (and any API tokens refreshed from it)."""
    await revoke_session(
        principal=session.principal, refresh_token=session.token, settings=settings
    )
