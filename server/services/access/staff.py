"""Staff accounts: creation by an admin, password login, role changes."""

from __future__ import annotations

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from server import clock
from server.auth import STAFF_ROLES, Principal
from server.config import Settings
from server.domain.errors import Conflict, NotFound, Unauthorized, ValidationFailed
from server.models import StaffUser
from server.passwords import hash_password, verify_password
from server.services.access.audit import record_action
from server.services.access.login_throttle import (
    account_key,
    address_key,
    clear_login_failures,
    ensure_login_allowed,
    record_login_failure,
)
from server.services.access.tokens import TokenPair, issue_token_pair

MIN_PASSWORD_LENGTH = 10


def _check_roles(roles: list[str]) -> list[str]:
    unknown = set(roles) - STAFF_ROLES
    if not roles or unknown:
        raise ValidationFailed(
            "roles must be a non-empty subset of staff, finance, admin",
            code="invalid_roles",
            fields={"roles": sorted(unknown) or "empty"},
        )
    return sorted(set(roles))


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(
            "password too short",
            code="weak_password",
            fields={"password": f"at least {MIN_PASSWORD_LENGTH} characters"},
        )


async def create_staff_user(
    *,
    username: str,
    password: str,
    roles: list[str],
    display_name: str = "",
    actor: Principal | None,
    request_id: str | None = None,
) -> StaffUser:
    """Create a staff account (actor None = bootstrap from the environment)."""
    roles = _check_roles(roles)
    _check_password(password)
    async with in_transaction() as conn:
        try:
            staff = await StaffUser.create(
                username=username,
                password_hash=hash_password(password),
                roles=roles,
                display_name=display_name,
                using_db=conn,
            )
        except IntegrityError:
            raise Conflict("username taken", code="username_taken") from None
        await record_action(
            actor=actor,
            action="staff.create",
            target_kind="staff",
            target_id=staff.id,
            details={"username": username, "roles": roles},
            request_id=request_id,
            using_db=conn,
        )
    return staff


async def ensure_bootstrap_admin(*, username: str, password: str) -> StaffUser:
    """Create the first admin if the username does not exist yet (idempotent)."""
    existing = await StaffUser.get_or_none(username=username)
    if existing is not None:
        return existing
    return await create_staff_user(
        username=username, password=password, roles=["admin"], display_name="Admin", actor=None
    )


async def login_staff(
    *, username: str, password: str, client_address: str | None, settings: Settings
) -> TokenPair:
    """Check a username + password and issue tokens carrying the account's roles."""
    account = account_key("staff", username)
    keys = (account, address_key("staff", client_address))
    await ensure_login_allowed(keys=keys)
    staff = await StaffUser.get_or_none(username=username)
    if not verify_password(staff.password_hash if staff else None, password) or staff is None:
        await record_login_failure(keys=keys, settings=settings)
        raise Unauthorized("wrong username or password", code="invalid_credentials")
    # The account's count only: a valid account of the attacker's own must not reset the
    # count of an address guessing passwords.
    await clear_login_failures(key=account)
    if not staff.is_active:
        raise Unauthorized("account disabled", code="account_disabled")
    staff.last_login_at = clock.now()
    await staff.save(update_fields=["last_login_at"])
    principal = Principal(kind="staff", id=staff.id, roles=frozenset(staff.roles))
    return await issue_token_pair(principal=principal, settings=settings)


async def get_staff_user(*, staff_id: int) -> StaffUser:
    """One staff account."""
    staff = await StaffUser.filter(id=staff_id).first()
    if staff is None:
        raise NotFound("no such staff user", code="staff_not_found")
    return staff


async def list_staff_users() -> list[StaffUser]:
    return await StaffUser.all().order_by("id")


async def update_staff_user(
    *,
    staff_id: int,
    roles: list[str] | None,
    is_active: bool | None,
    actor: Principal,
    request_id: str | None = None,
) -> StaffUser:
    """Change an account's roles or active flag (audited)."""
    async with in_transaction() as conn:
        staff = await StaffUser.filter(id=staff_id).using_db(conn).select_for_update().first()
        if staff is None:
            raise NotFound("no such staff user", code="staff_not_found")
        changes: dict[str, object] = {}
        if roles is not None:
            staff.roles = _check_roles(roles)
            changes["roles"] = staff.roles
        if is_active is not None:
            staff.is_active = is_active
            changes["is_active"] = is_active
        await staff.save(using_db=conn)
        await record_action(
            actor=actor,
            action="staff.update",
            target_kind="staff",
            target_id=staff.id,
            details=changes,
            request_id=request_id,
            using_db=conn,
        )
    return staff


def serialize_staff(staff: StaffUser) -> dict[str, object]:
    return {
        "id": staff.id,
        "username": staff.username,
        "display_name": staff.display_name,
        "roles": staff.roles,
        "is_active": staff.is_active,
        "created_at": staff.created_at,
        "last_login_at": staff.last_login_at,
    }
