"""Reading promoter profiles: staff lists and details, status history, a promoter's own view.

Phones are shown to staff and admin (who review applications), masked for other roles.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from server.auth import ROLES_STAFF, Principal
from server.domain.errors import NotFound, ValidationFailed
from server.domain.masking import mask_phone
from server.domain.pagination import check_page_limit, next_cursor
from server.domain.promoters.search import prefix_bounds, search_terms
from server.domain.promoters.status import ACTIVE_STATUSES, PROMOTER_LIFECYCLE, PromoterStatus
from server.domain.sharing.codes import normalize_code
from server.models import Program, Promoter, PromoterStatusChange

# Moves staff make by hand; `expire` belongs to the expiry job.
STAFF_ACTIONS = frozenset({"approve", "reject", "suspend", "reinstate", "disable"})
# Profiles holding a place in the program (and a usable invite code); a rejected, expired
# or disabled profile is history.
ACTIVE_OR_SUSPENDED = frozenset({PromoterStatus.APPROVED, PromoterStatus.SUSPENDED})


def promoter_not_found() -> NotFound:
    return NotFound("no such promoter", code="promoter_not_found")


async def get_active_promoter(
    *, user_id: int, program_id: int, using_db: BaseDBAsyncClient | None = None
) -> Promoter:
    """The user's approved or suspended profile in the program, else NotFound."""
    promoter = (
        await Promoter.filter(
            user_id=user_id, program_id=program_id, status__in=list(ACTIVE_OR_SUSPENDED)
        )
        .using_db(using_db)
        .first()
    )
    if promoter is None:
        raise promoter_not_found()
    return promoter


async def get_promoter_by_invite_code(
    *,
    program_id: int,
    code: str,
    active_only: bool = True,
    using_db: BaseDBAsyncClient | None = None,
) -> Promoter:
    """The promoter owning an invite code (case-insensitive), approved ones only by default."""
    query = Promoter.filter(program_id=program_id, invite_code=normalize_code(code))
    if active_only:
        query = query.filter(status__in=list(ACTIVE_STATUSES))
    promoter = await query.using_db(using_db).first()
    if promoter is None:
        raise NotFound("no promoter has this invite code", code="invite_code_not_found")
    return promoter


def _utc(moment: datetime | None) -> datetime | None:
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


def _reveals_phone(viewer: Principal) -> bool:
    return bool(viewer.roles & set(ROLES_STAFF))


def staff_actions_from(status: str) -> list[str]:
    """What staff may do next with a promoter in `status`."""
    return [
        action
        for action in PROMOTER_LIFECYCLE.allowed_actions(PromoterStatus(status))
        if action in STAFF_ACTIONS
    ]


def serialize_promoter(promoter: Promoter, *, viewer: Principal) -> dict[str, Any]:
    """A promoter as back-office staff see it."""
    return {
        "id": promoter.id,
        "program_id": promoter.program_id,
        "user_id": promoter.user_id,
        "status": promoter.status,
        "real_name": promoter.real_name,
        "phone": promoter.phone if _reveals_phone(viewer) else mask_phone(promoter.phone),
        "agreement_version": promoter.agreement_version,
        "applied_invite_code": promoter.applied_invite_code,
        "parent_id": promoter.parent_id,
        "invite_code": promoter.invite_code,
        "tier": promoter.tier,
        "tier_locked": promoter.tier_locked,
        "tier_evaluated_at": promoter.tier_evaluated_at,
        "reject_reason": promoter.reject_reason,
        "applied_at": promoter.applied_at,
        "decided_at": promoter.decided_at,
        "updated_at": promoter.updated_at,
        "allowed_actions": staff_actions_from(promoter.status),
    }


def serialize_own_profile(promoter: Promoter) -> dict[str, Any]:
    """A profile as its promoter sees it (the program must be fetched)."""
    program: Program = promoter.program
    return {
        "id": promoter.id,
        "program": {"id": program.id, "name": program.name, "status": program.status},
        "status": promoter.status,
        "real_name": promoter.real_name,
        "phone": promoter.phone,
        "agreement_version": promoter.agreement_version,
        "applied_invite_code": promoter.applied_invite_code,
        "invite_code": (promoter.invite_code if promoter.status in ACTIVE_OR_SUSPENDED else None),
        "tier": promoter.tier,
        "reject_reason": promoter.reject_reason,
        "applied_at": promoter.applied_at,
        "decided_at": promoter.decided_at,
    }


def serialize_status_change(change: PromoterStatusChange) -> dict[str, Any]:
    return {
        "id": change.id,
        "promoter_id": change.promoter_id,
        "from_status": change.from_status,
        "to_status": change.to_status,
        "action": change.action,
        "reason": change.reason,
        "actor_kind": change.actor_kind,
        "actor_id": change.actor_id,
        "at": change.at,
    }


async def list_promoters(
    *,
    program_id: int,
    viewer: Principal,
    status: str | None = None,
    q: str | None = None,
    tier: str | None = None,
    applied_from: datetime | None = None,
    applied_to: datetime | None = None,
    cursor: int | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    """A page of a program's promoters, newest first; `q`: a name or phone start, a phone end."""
    check_page_limit(limit)
    if status is not None and status not in {s.value for s in PromoterStatus}:
        raise ValidationFailed(
            "unknown promoter status",
            code="invalid_status",
            fields={"status": sorted(s.value for s in PromoterStatus)},
        )
    if not await Program.filter(id=program_id).exists():
        raise NotFound("no such program", code="program_not_found")
    query = Promoter.filter(program_id=program_id)
    if status is not None:
        query = query.filter(status=status)
    if tier is not None:
        query = query.filter(tier=tier)
    if applied_from is not None:
        query = query.filter(applied_at__gte=_utc(applied_from))
    if applied_to is not None:
        query = query.filter(applied_at__lt=_utc(applied_to))
    if cursor is not None:
        query = query.filter(id__lt=cursor)
    promoters = await _searched(query, q, limit) if q else await query.order_by("-id").limit(limit)
    return {
        "items": [serialize_promoter(p, viewer=viewer) for p in promoters],
        "next_cursor": next_cursor([row.id for row in promoters], limit),
    }


def search_queries(query: QuerySet[Promoter], text: str, limit: int) -> list[QuerySet[Promoter]]:
    """One indexed lookup per reading of the text (name start, phone start, phone end)."""
    terms = search_terms(text)
    lookups: list[Q] = []
    for column, prefix in (
        ("name_key", terms.name_prefix),
        ("phone_digits", terms.phone_prefix),
        ("phone_reversed", terms.phone_reversed_prefix),
    ):
        if prefix:
            low, high = prefix_bounds(prefix)
            bounds = {f"{column}__gte": low} | ({f"{column}__lt": high} if high else {})
            lookups.append(Q(**bounds))
    return [query.filter(lookup).order_by("-id").limit(limit) for lookup in lookups]


async def _searched(query: QuerySet[Promoter], text: str, limit: int) -> list[Promoter]:
    # Each lookup newest first and limited, then merged: an OR of them in one statement
    # would make the database scan the program's promoters.
    found: dict[int, Promoter] = {}
    for lookup in search_queries(query, text, limit):
        for promoter in await lookup:
            found[promoter.id] = promoter
    return sorted(found.values(), key=lambda p: p.id, reverse=True)[:limit]


async def _promoter(promoter_id: int) -> Promoter:
    promoter = await Promoter.get_or_none(id=promoter_id)
    if promoter is None:
        raise promoter_not_found()
    return promoter


async def get_promoter_for_staff(*, promoter_id: int) -> Promoter:
    """A promoter by id, else 404 promoter_not_found."""
    return await _promoter(promoter_id)


async def get_promoter_detail(*, promoter_id: int, viewer: Principal) -> dict[str, Any]:
    """One promoter for staff, with a summary of the upline named at application."""
    promoter = await _promoter(promoter_id)
    detail = serialize_promoter(promoter, viewer=viewer)
    upline = await Promoter.get_or_none(id=promoter.parent_id) if promoter.parent_id else None
    detail["upline"] = (
        {
            "id": upline.id,
            "real_name": upline.real_name,
            "status": upline.status,
            "invite_code": upline.invite_code,
        }
        if upline
        else None
    )
    return detail


async def promoter_history(*, promoter_id: int) -> dict[str, Any]:
    """Every status change of a promoter, oldest first."""
    promoter = await _promoter(promoter_id)
    changes = await PromoterStatusChange.filter(promoter_id=promoter.id).order_by("id")
    return {"items": [serialize_status_change(c) for c in changes]}


async def list_my_profiles(*, user_id: int) -> dict[str, Any]:
    """All of a user's profiles across programs, newest first (old ones are history)."""
    promoters = await Promoter.filter(user_id=user_id).prefetch_related("program").order_by("-id")
    return {"items": [serialize_own_profile(p) for p in promoters]}


async def get_my_profile(*, user_id: int, program_id: int) -> dict[str, Any]:
    """The user's current profile in a program: the live one, else the latest decided one."""
    # A live profile blocks new applications, so the newest row is always the current one.
    promoter = (
        await Promoter.filter(user_id=user_id, program_id=program_id)
        .prefetch_related("program")
        .order_by("-id")
        .first()
    )
    if promoter is None:
        raise NotFound("you have no profile in this program", code="promoter_not_found")
    return serialize_own_profile(promoter)
