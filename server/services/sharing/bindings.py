"""Customer ↔ promoter bindings: applying the program's bind mode to each touch and reading
which binding held a customer at a given time; history is kept, never rewritten.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from server import clock
from server.db import is_mysql
from server.domain.errors import NotFound, ValidationFailed
from server.domain.promoters.status import ACTIVE_STATUSES
from server.domain.sharing.attribution import (
    BindAction,
    BindingDecision,
    BindingSnapshot,
    Touch,
    TouchSource,
    decide_binding,
)
from server.models import Binding, BindingCustomer, Program, Promoter
from server.services.reports.marks import mark_instants
from server.services.sharing.visit_targets import (
    VisitTarget,
    resolve_code_target,
    resolve_link_target,
)

TouchKind = Literal["visit", "code", "register"]
TOUCH_KINDS = ("visit", "code", "register")
MAX_EXTERNAL_ID_LENGTH = 128
# tortoise's own upsert uses MySQL 8's `INSERT … AS alias` syntax, which MariaDB refuses.
_UPSERT_CUSTOMER_MYSQL = (
    "INSERT INTO `binding_customers` (`program_id`, `customer_key`) VALUES (%s, %s) "
    "ON DUPLICATE KEY UPDATE `program_id` = `program_id`"
)
_UPSERT_CUSTOMER_SQLITE = (
    'INSERT INTO "binding_customers" ("program_id", "customer_key") VALUES (?, ?) '
    'ON CONFLICT ("program_id", "customer_key") DO NOTHING'
)
# User ids start at 1: a customer known only by the store's id is never a promoter's own user.
NO_USER_ID = 0


# ---------------------------------------------------------------- customer identity


def _checked_external_id(customer_external_id: str | None) -> str | None:
    if customer_external_id is None:
        return None
    if not 1 <= len(customer_external_id) <= MAX_EXTERNAL_ID_LENGTH:
        raise ValidationFailed(
            f"a customer's external id has 1 to {MAX_EXTERNAL_ID_LENGTH} characters",
            code="invalid_customer_external_id",
            fields={"customer_external_id": f"1..{MAX_EXTERNAL_ID_LENGTH} characters"},
        )
    return customer_external_id


def _key(identity: str) -> str:
    return hashlib.sha256(identity.encode()).hexdigest()


def customer_keys(*, customer_user_id: int | None, customer_external_id: str | None) -> list[str]:
    """The customer's identity keys, the binding identity first."""
    external_id = _checked_external_id(customer_external_id)
    keys = []
    if customer_user_id is not None:
        keys.append(_key(f"user:{customer_user_id}"))
    if external_id is not None:
        keys.append(_key(f"ext:{external_id}"))
    if not keys:
        raise ValidationFailed(
            "a customer is a user id or an external customer id",
            code="customer_required",
            fields={"customer_external_id": "required without customer_user_id"},
        )
    return keys


def _active_key(program_id: int, customer_key: str) -> str:
    return f"{program_id}:{customer_key}"


# ---------------------------------------------------------------- binding a touch


def _snapshot(binding: Binding, promoter_status: str) -> BindingSnapshot:
    return BindingSnapshot(
        promoter_id=binding.promoter_id,
        promoter_status=promoter_status,
        bound_at=binding.bound_at,
        expires_at=binding.expires_at,
        bind_mode=binding.bind_mode,
    )


def _ending(action: BindAction, existing: BindingSnapshot, at: datetime) -> tuple[str, datetime]:
    """Why and when the open binding ends because of this decision."""
    if action == BindAction.REBIND:
        return "superseded", at
    if action == BindAction.RENEW:
        return "renewed", at
    if existing.expires_at is not None and existing.expires_at <= at:
        return "expired", existing.expires_at
    if existing.promoter_status not in ACTIVE_STATUSES:
        return "promoter_inactive", at
    return "superseded", at


async def _lock_customer(
    *, program_id: int, customer_key: str, conn: BaseDBAsyncClient
) -> BindingCustomer:
    """Create (once) and lock the customer's row: decisions for one customer are serialized."""
    # An upsert, not a plain INSERT: on an existing row InnoDB's ON DUPLICATE KEY UPDATE takes
    # an exclusive lock, where a failed plain INSERT takes a shared one, and two shared holders
    # that both go on to lock the row for writing deadlock.
    await conn.execute_query(
        _UPSERT_CUSTOMER_MYSQL if is_mysql(conn) else _UPSERT_CUSTOMER_SQLITE,
        [program_id, customer_key],
    )
    return (
        await BindingCustomer.filter(program_id=program_id, customer_key=customer_key)
        .using_db(conn)
        .select_for_update()
        .get()
    )


async def _open_binding(
    *, anchor: BindingCustomer, conn: BaseDBAsyncClient
) -> tuple[Binding, str] | None:
    if anchor.open_binding_id is None:
        return None
    # A locking read: it sees the latest committed row, not this transaction's snapshot.
    binding = (
        await Binding.filter(id=anchor.open_binding_id).using_db(conn).select_for_update().get()
    )
    statuses = (
        await Promoter.filter(id=binding.promoter_id)
        .using_db(conn)
        .values_list("status", flat=True)
    )
    return binding, str(statuses[0])


@dataclass(frozen=True)
class _Provenance:
    """Where a touch came from, as its binding keeps it."""

    channel_id: int | None
    code_id: int | None
    visit_id: int | None
    share_link_id: int | None
    reached_by: TouchSource | None


async def _decide_and_write(
    *,
    program: Program,
    customer_user_id: int | None,
    customer_external_id: str | None,
    customer_key: str,
    touch: Touch,
    provenance: _Provenance,
    conn: BaseDBAsyncClient,
) -> BindingDecision:
    anchor = await _lock_customer(program_id=program.id, customer_key=customer_key, conn=conn)
    found = await _open_binding(anchor=anchor, conn=conn)
    existing = _snapshot(*found) if found is not None else None
    decision = decide_binding(
        bind_mode=program.bind_mode,
        customer_user_id=customer_user_id if customer_user_id is not None else NO_USER_ID,
        existing=existing,
        touch=touch,
        attribution_window_days=program.attribution_window_days,
    )
    if not decision.writes:
        return decision
    if found is not None and existing is not None:
        reason, ended_at = _ending(decision.action, existing, touch.at)
        await (
            Binding.filter(id=found[0].id)
            .using_db(conn)
            .update(active_key=None, ended_at=ended_at, end_reason=reason)
        )
    created = await Binding.create(
        program_id=program.id,
        promoter_id=touch.promoter_id,
        customer_user_id=customer_user_id,
        customer_external_id=customer_external_id,
        customer_key=customer_key,
        active_key=_active_key(program.id, customer_key),
        source=touch.source,
        bind_mode=program.bind_mode,
        channel_id=provenance.channel_id,
        code_id=provenance.code_id,
        visit_id=provenance.visit_id,
        share_link_id=provenance.share_link_id,
        reached_by=provenance.reached_by.value if provenance.reached_by else None,
        bound_at=decision.bound_at,
        expires_at=decision.expires_at,
        using_db=conn,
    )
    if found is not None:
        await Binding.filter(id=found[0].id).using_db(conn).update(replaced_by_id=created.id)
    await mark_instants(conn=conn, program_id=program.id, instants=[decision.bound_at])
    await BindingCustomer.filter(id=anchor.id).using_db(conn).update(open_binding_id=created.id)
    return decision


def _ignored(reason: str) -> BindingDecision:
    return BindingDecision(
        action=BindAction.IGNORE, reason=reason, promoter_id=None, bound_at=None, expires_at=None
    )


async def bind_from_touch(
    *,
    program_id: int,
    customer_user_id: int | None,
    customer_external_id: str | None,
    promoter_id: int,
    channel_id: int | None,
    code_id: int | None,
    visit_id: int | None,
    source: TouchKind,
    at: datetime,
    conn: BaseDBAsyncClient,
    share_link_id: int | None = None,
    reached_by: TouchSource | None = None,
) -> BindingDecision:
    """Apply the program's bind mode to a touch, inside the caller's transaction."""
    if source not in TOUCH_KINDS:
        raise ValidationFailed(
            "unknown touch source", code="invalid_touch_source", fields={"source": source}
        )
    customer_key = customer_keys(
        customer_user_id=customer_user_id, customer_external_id=customer_external_id
    )[0]
    program = await Program.get_or_none(id=program_id, using_db=conn)
    if program is None or program.status != "active":
        return _ignored("program_not_active")
    promoter = await Promoter.get_or_none(id=promoter_id, program_id=program_id, using_db=conn)
    if promoter is None:
        return _ignored("promoter_not_found")
    touch = Touch(
        promoter_id=promoter.id,
        promoter_user_id=promoter.user_id,
        promoter_status=promoter.status,
        source=source,
        at=at,
        at_registration=source == "register",
    )
    return await _decide_and_write(
        program=program,
        customer_user_id=customer_user_id,
        customer_external_id=customer_external_id,
        customer_key=customer_key,
        touch=touch,
        provenance=_Provenance(
            channel_id=channel_id,
            code_id=code_id,
            visit_id=visit_id,
            share_link_id=share_link_id,
            reached_by=reached_by,
        ),
        conn=conn,
    )


# ---------------------------------------------------------------- reading bindings


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


async def current_binding(
    *,
    program_id: int,
    customer_user_id: int | None,
    customer_external_id: str | None,
    at: datetime,
    conn: BaseDBAsyncClient | None = None,
) -> Binding | None:
    """The binding that held the customer at `at`, with its promoter; None if none did."""
    # The promoter's status is not judged here: whoever pays reads it.
    keys = customer_keys(
        customer_user_id=customer_user_id, customer_external_id=customer_external_id
    )
    at = _utc(at)
    for key in keys:
        binding = (
            await Binding.filter(program_id=program_id, customer_key=key, bound_at__lte=at)
            .filter(Q(ended_at=None) | Q(ended_at__gt=at))
            .filter(Q(expires_at=None) | Q(expires_at__gt=at))
            .using_db(conn)
            .order_by("-bound_at", "-id")
            .select_related("promoter")
            .first()
        )
        if binding is not None:
            return binding
    return None


def snapshot_of(binding: Binding) -> BindingSnapshot:
    """The domain's view of a binding read by `current_binding` (promoter fetched)."""
    return _snapshot(binding, binding.promoter.status)


async def register_customer(
    *, user_id: int, program_id: int, short_code: str | None, code: str | None
) -> BindingDecision:
    """A customer signs up through a link or a code (the touch `on_register` binds on)."""
    if (short_code is None) == (code is None):
        raise ValidationFailed(
            "give either the short code of the link or the code you were given",
            code="referral_required",
            fields={"short_code": "exactly one of short_code, code"},
        )
    target: VisitTarget
    if short_code is not None:
        target = await resolve_link_target(short_code=short_code)
        if target.program_id != program_id:
            raise NotFound("no such link", code="link_not_found")
    else:
        target = await resolve_code_target(program_id=program_id, code=code or "")
    async with in_transaction() as conn:
        return await bind_from_touch(
            program_id=program_id,
            customer_user_id=user_id,
            customer_external_id=None,
            promoter_id=target.promoter_id,
            channel_id=target.channel_id,
            code_id=target.code_id,
            visit_id=None,
            share_link_id=target.share_link_id,
            reached_by=TouchSource.LINK if short_code is not None else TouchSource.CODE,
            source="register",
            at=clock.now(),
            conn=conn,
        )
