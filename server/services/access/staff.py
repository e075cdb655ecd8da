"""Staff accounts: creation by an admin, password login, role changes."""

from __future__ import annotations

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from server import clock
from server.auth import STAFF_ROLES, Principal
from server.config import Settings
from server.domain.errors import Conflict, NotFound, Unauthorized, ValidationFailed
from server.models import Program, StaffProgram, StaffUser
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


class Unchanged:
    """An update that leaves a field as it is (None is a value of its own)."""


UNCHANGED = Unchanged()


def _check_roles(roles: list[str]) -> list[str]:
    unknown = set(roles) - STAFF_ROLES
    if not roles or unknown:
        raise ValidationFailed(
            "roles must be a non-empty subset of staff, finance, admin",
            code="invalid_roles",
            fields={"roles": sorted(unknown) or "empty"},
        )
    return sorted(set(roles))


def _admin_not_scopable() -> ValidationFailed:
    return ValidationFailed(
        "an admin sees every program: admin accounts cannot be limited to programs",
        code="admin_not_scopable",
        fields={"programs": "must be null for an admin"},
    )


async def _check_programs(
    programs: list[int] | None, roles: list[str], conn: BaseDBAsyncClient
) -> list[int] | None:
    if programs is None:
        return None
    if "admin" in roles:
        raise _admin_not_scopable()
    wanted = sorted(set(programs))
    found = set(await Program.filter(id__in=wanted).using_db(conn).values_list("id", flat=True))
    unknown = [i for i in wanted if i not in found]
    if not wanted or unknown:
        raise ValidationFailed(
            "programs must be a non-empty list of existing program ids (null = every program)",
            code="invalid_programs",
            fields={"programs": unknown or "empty"},
        )
    return wanted


async def _link_programs(
    staff: StaffUser, programs: list[int] | None, conn: BaseDBAsyncClient
) -> None:
    await StaffProgram.filter(staff_id=staff.id).using_db(conn).delete()
    for program_id in programs or ():
        await StaffProgram.create(staff_id=staff.id, program_id=program_id, using_db=conn)


async def programs_of(staff_ids: list[int]) -> dict[int, list[int]]:
    """The programs each account is limited to (an account absent here sees every program)."""
    rows = await StaffProgram.filter(staff_id__in=staff_ids).order_by("program_id")
    linked: dict[int, list[int]] = {}
    for row in rows:
        linked.setdefault(row.staff_id, []).append(row.program_id)  # type: ignore[attr-defined]
    return linked


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
    programs: list[int] | None = None,
    actor: Principal | None,
    request_id: str | None = None,
) -> StaffUser:
    """Create a staff account (actor None = bootstrap from the environment); `programs`
    limits it to those programs (None = every program)."""
    roles = _check_roles(roles)
    _check_password(password)
    async with in_transaction() as conn:
        programs = await _check_programs(programs, roles, conn)
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
        await _link_programs(staff, programs, conn)
        await record_action(
            actor=actor,
            action="staff.create",
            target_kind="staff",
            target_id=staff.id,
            details={"username": username, "roles": roles, "programs": programs},
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
    programs: list[int] | Unchanged | None = UNCHANGED,
    actor: Principal,
    request_id: str | None = None,
) -> StaffUser:
    """Change an account's roles, active flag or programs (None = every program); audited.
    The account's next request sees the change."""
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
        if not isinstance(programs, Unchanged):
            changes["programs"] = await _check_programs(programs, staff.roles, conn)
            await _link_programs(staff, changes["programs"], conn)  # type: ignore[arg-type]
        elif "admin" in staff.roles and (
            await StaffProgram.filter(staff_id=staff.id).using_db(conn).exists()
        ):
            raise _admin_not_scopable()  # made an admin while limited: lift the limits too
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


def serialize_staff(staff: StaffUser, programs: list[int] | None) -> dict[str, object]:
    """An account as admins see it; `programs` None = every program."""
    return {
        "id": staff.id,
        "username": staff.username,
        "display_name": staff.display_name,
        "roles": staff.roles,
        "is_active": staff.is_active,
        "programs": programs,
        "created_at": staff.created_at,
        "last_login_at": staff.last_login_at,
    }


async def staff_views(accounts: list[StaffUser]) -> list[dict[str, object]]:
    """Accounts as admins see them, each with the programs it is limited to."""
    linked = await programs_of([a.id for a in accounts])
    return [serialize_staff(a, linked.get(a.id)) for a in accounts]
