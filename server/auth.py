"""JWT access/refresh tokens and the role guard every route declares."""

from __future__ import annotations

import functools
import json
import secrets
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

import jwt

from server import clock
from server.domain.errors import Forbidden, Unauthorized

ALGORITHM = "HS256"
ISSUER = "fenxiao"
STAFF_ROLES = frozenset({"staff", "finance", "admin"})
ALL_ROLES = STAFF_ROLES | {"promoter"}

# Role sets routes declare. `admin` is included explicitly wherever it is allowed.
ROLES_STAFF = ("staff", "admin")
ROLES_FINANCE = ("finance", "admin")
ROLES_BACKOFFICE = ("staff", "finance", "admin")
ROLES_ADMIN = ("admin",)
ROLES_PROMOTER = ("promoter",)

SubjectKind = Literal["user", "staff"]


@dataclass(frozen=True)
class Principal:
    """Who is calling: a WeChat user (role `promoter`) or a staff account."""

    kind: SubjectKind
    id: int
    roles: frozenset[str]
    # The programs a scoped staff or finance account is limited to; None = every program.
    # Read from the account on each request (server.services.access.tokens), never a claim.
    programs: frozenset[int] | None = None

    @property
    def subject(self) -> str:
        return f"{self.kind}:{self.id}"

    @property
    def is_scoped(self) -> bool:
        return self.programs is not None


@dataclass(frozen=True)
class IssuedToken:
    token: str
    jti: str
    expires_in: int


def encode_token(
    principal: Principal,
    *,
    secret: str,
    token_type: Literal["access", "refresh"],
    ttl_seconds: int,
) -> IssuedToken:
    issued = clock.now()
    jti = secrets.token_hex(16)
    claims = {
        "iss": ISSUER,
        "sub": principal.subject,
        "roles": sorted(principal.roles),
        "typ": token_type,
        "iat": issued,
        "exp": issued + timedelta(seconds=ttl_seconds),
        "jti": jti,
    }
    return IssuedToken(jwt.encode(claims, secret, algorithm=ALGORITHM), jti, ttl_seconds)


def decode_token(
    token: str, *, secret: str, token_type: Literal["access", "refresh"]
) -> tuple[Principal, dict[str, Any]]:
    """Verify signature, issuer, expiry and type; return the principal and raw claims."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            # Expiry is checked below against server.clock, which tests can move forward.
            options={
                "require": ["exp", "iat", "sub", "typ", "jti"],
                "verify_exp": False,
                "verify_iat": False,
            },
        )
    except jwt.PyJWTError:
        raise Unauthorized("invalid token", code="token_invalid") from None
    if not isinstance(claims["exp"], int | float) or claims["exp"] <= clock.now().timestamp():
        raise Unauthorized("token expired", code="token_expired")
    if claims.get("typ") != token_type:
        raise Unauthorized(f"expected a {token_type} token", code="token_wrong_type")
    kind, _, raw_id = str(claims["sub"]).partition(":")
    roles = claims.get("roles")
    if kind not in ("user", "staff") or not raw_id.isdigit() or not isinstance(roles, list):
        raise Unauthorized("invalid token subject", code="token_invalid")
    if not set(roles) <= ALL_ROLES:
        raise Unauthorized("invalid token roles", code="token_invalid")
    return Principal(kind=kind, id=int(raw_id), roles=frozenset(roles)), claims  # type: ignore[arg-type]


def bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise Unauthorized("missing bearer token", code="auth_required")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("missing bearer token", code="auth_required")
    return token.strip()


Handler = Callable[..., Awaitable[Any]]
# The app's check of a decoded principal against the accounts as stored now (set by create_app
# to server.services.access.tokens.confirm_principal; the guard cannot import services).
PrincipalCheck = Callable[[Principal], Awaitable[Principal]]


@dataclass(frozen=True)
class ScopeRefs:
    """The records a request names, for the program scope check of a scoped account.

    `kinds` renames a parameter or body field to the resource it names where its name alone
    would mislead (`batch_id` of an adjustment batch, `ids` of promoters).
    """

    path: dict[str, Any]
    query: dict[str, list[str]]
    body: dict[str, Any]
    kinds: dict[str, str]


# Set by create_app to server.services.access.scope.check_scope: 404 unless every record the
# request names belongs to one of the principal's programs.
ScopeCheck = Callable[[Principal, ScopeRefs], Awaitable[None]]


def _body_refs(request: Any, fields: dict[str, str]) -> dict[str, Any]:
    if not fields or not request.body:
        return {}
    try:
        data = json.loads(request.body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return {}  # the handler answers its own 400
    if not isinstance(data, dict):
        return {}
    return {name: data[name] for name in fields if name in data}


def requires(
    *roles: str, refs: dict[str, str] | None = None, body: dict[str, str] | None = None
) -> Callable[[Handler], Handler]:
    """Guard a route: the caller's access token must carry one of `roles`, and a scoped
    account reaches only its programs' records.

    Path and query parameters name records by their own names (`promoter_id`, …); `refs`
    renames one to the resource it names, `body` lists the body fields that name records.
    """
    # The roles are kept on the handler (`__roles__`) so a test can check the whole matrix.
    allowed = frozenset(roles)
    unknown = allowed - ALL_ROLES
    if not allowed or unknown:
        raise ValueError(f"requires() needs known roles, got {sorted(roles)}")
    kinds = {**(refs or {}), **(body or {})}

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def guarded(request: Any, *args: Any, **kwargs: Any) -> Any:
            settings = request.app.ctx.settings
            principal, _ = decode_token(
                bearer_token(request.headers.get("authorization")),
                secret=settings.jwt_secret,
                token_type="access",
            )
            # A disabled account or changed roles take effect now, not when the token expires.
            principal = await request.app.ctx.confirm_principal(principal)
            if not principal.roles & allowed:
                raise Forbidden("your role may not do this", code="role_forbidden")
            if principal.is_scoped:
                named = ScopeRefs(
                    path=kwargs,
                    query=dict(request.args),
                    body=_body_refs(request, body or {}),
                    kinds=kinds,
                )
                await request.app.ctx.check_scope(principal, named)
            request.ctx.principal = principal
            return await handler(request, *args, **kwargs)

        guarded.__roles__ = allowed  # type: ignore[attr-defined]
        guarded.__scope_body__ = dict(body or {})  # type: ignore[attr-defined]
        return guarded

    return decorate


def public(handler: Handler) -> Handler:
    """Mark a route as deliberately open (login, health, S2S with its own signature)."""
    handler.__roles__ = frozenset()  # type: ignore[attr-defined]
    return handler


def roles_of(handler: Any) -> Iterable[str] | None:
    return getattr(handler, "__roles__", None)
