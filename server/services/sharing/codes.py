"""Referral and voucher codes with aliases: unique per program whatever the case, including
against promoters' invite codes, so a code read aloud always leads to one promoter."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.models import Model
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from server.auth import Principal
from server.domain.errors import Conflict, NotFound, ValidationFailed
from server.domain.promoters.status import PromoterStatus
from server.domain.sharing.codes import generate_code, is_valid_custom_code, normalize_code
from server.domain.sharing.rules import CodeReview, review_of_new_code
from server.models import Promoter, ShareCode
from server.services.access.audit import record_action
from server.services.sharing.channels import (
    MAX_PAGE_SIZE,
    latest_promoter,
    own_channel,
    sharing_promoter,
)
from server.services.sharing.quotas import CODES, is_reserved, refuse_over_quota, sharing_rules_of

M = TypeVar("M", bound=Model)

CODE_KINDS = ("referral", "voucher")
GENERATION_ATTEMPTS = 8
MAX_CODE_LENGTH = 32


@dataclass(frozen=True)
class ResolvedCode:
    """Who a typed code credits. `code_id`/`code` are the target when an alias was typed."""

    program_id: int
    promoter_id: int
    channel_id: int | None
    code_id: int
    code: str
    kind: str
    matched_code_id: int
    matched_code: str


def _checked_custom(text: str, *, field: str) -> str:
    text = text.strip()
    if not is_valid_custom_code(text):
        raise ValidationFailed(
            "a code has 3 to 32 letters, digits, '-' or '_', starting with a letter or digit",
            code="invalid_code",
            fields={field: "3–32 of A-Z a-z 0-9 - _, starting with a letter or digit"},
        )
    return text


def _checked_kind(kind: str) -> str:
    if kind not in CODE_KINDS:
        raise ValidationFailed(
            "unknown code kind", code="invalid_code_kind", fields={"kind": list(CODE_KINDS)}
        )
    return kind


async def _is_taken(*, program_id: int, normalized: str, conn: BaseDBAsyncClient) -> bool:
    if await ShareCode.filter(program_id=program_id, normalized=normalized).using_db(conn).exists():
        return True
    if await is_reserved(program_id=program_id, normalized=normalized, conn=conn):
        return True
    return (
        await Promoter.filter(program_id=program_id, invite_code__iexact=normalized)
        .using_db(conn)
        .exists()
    )


def _taken(text: str) -> Conflict:
    return Conflict(
        "this code is already taken in the program", code="code_taken", fields={"code": text}
    )


async def _refuse_taken(*, program_id: int, text: str, field: str, conn: BaseDBAsyncClient) -> None:
    """409 code_reserved for the store's own coupon text, 409 code_taken for any other use."""
    normalized = normalize_code(text)
    if await is_reserved(program_id=program_id, normalized=normalized, conn=conn):
        raise Conflict(
            "this code is reserved by the store", code="code_reserved", fields={field: text}
        )
    if await _is_taken(program_id=program_id, normalized=normalized, conn=conn):
        raise _taken(text)


async def _insert(*, text: str, conn: BaseDBAsyncClient, **values: Any) -> ShareCode:
    try:
        return await ShareCode.create(
            code=text, normalized=normalize_code(text), using_db=conn, **values
        )
    except IntegrityError:
        # Another request took the same text between our check and our insert.
        raise _taken(text) from None


async def create_code(
    *,
    user_id: int,
    program_id: int,
    kind: str,
    code: str | None = None,
    channel_id: int | None = None,
) -> ShareCode:
    """Create a referral/voucher code (custom text, or generated), optionally on a channel."""
    kind = _checked_kind(kind)
    custom = _checked_custom(code, field="code") if code is not None else None
    async with in_transaction() as conn:
        # Locking the promoter row serializes this promoter's creations, so the cap holds.
        promoter = await sharing_promoter(
            user_id=user_id, program_id=program_id, using_db=conn, lock=True
        )
        channel = (
            await own_channel(promoter=promoter, channel_id=channel_id, using_db=conn)
            if channel_id is not None
            else None
        )
        rules = await sharing_rules_of(program_id=program_id, conn=conn)
        review = review_of_new_code(mode=rules.custom_codes, chosen=custom is not None)
        await refuse_over_quota(promoter_id=promoter.id, rules=rules, instrument=CODES, conn=conn)
        if custom is not None:
            text = custom
            await _refuse_taken(program_id=program_id, text=text, field="code", conn=conn)
        else:
            for _ in range(GENERATION_ATTEMPTS):
                text = generate_code()
                if not await _is_taken(program_id=program_id, normalized=text, conn=conn):
                    break
            else:
                raise Conflict("could not generate a free code, try again", code="code_taken")
        return await _insert(
            text=text,
            conn=conn,
            program_id=program_id,
            promoter_id=promoter.id,
            channel_id=channel.id if channel else None,
            kind=kind,
            review_status=review.value,
        )


async def add_alias(*, user_id: int, program_id: int, code_id: int, alias: str) -> ShareCode:
    """Add another spelling that resolves to one of the caller's codes."""
    text = _checked_custom(alias, field="alias")
    async with in_transaction() as conn:
        promoter = await sharing_promoter(
            user_id=user_id, program_id=program_id, using_db=conn, lock=True
        )
        target = await ShareCode.filter(id=code_id, promoter_id=promoter.id).using_db(conn).first()
        if target is None:
            raise NotFound("no such code", code="code_not_found", fields={"code_id": code_id})
        if target.alias_of_id is not None:
            # An alias of an alias points at the real code: resolution stays one hop.
            target = await ShareCode.get(id=target.alias_of_id, using_db=conn)
        if not target.is_active:
            raise Conflict(
                "the code is deactivated", code="code_inactive", fields={"code_id": code_id}
            )
        rules = await sharing_rules_of(program_id=program_id, conn=conn)
        review = review_of_new_code(mode=rules.custom_codes, chosen=True, field="alias")
        await refuse_over_quota(promoter_id=promoter.id, rules=rules, instrument=CODES, conn=conn)
        await _refuse_taken(program_id=program_id, text=text, field="alias", conn=conn)
        return await _insert(
            text=text,
            conn=conn,
            program_id=program_id,
            promoter_id=promoter.id,
            channel_id=target.channel_id,
            kind=target.kind,
            alias_of_id=target.id,
            review_status=review.value,
        )


async def deactivate_with_aliases(code: ShareCode, *, conn: BaseDBAsyncClient) -> int:
    """Deactivate a code and, when it is a real code, its aliases; returns aliases touched."""
    code.is_active = False
    await code.save(using_db=conn, update_fields=["is_active"])
    if code.alias_of_id is not None:
        return 0
    return (
        await ShareCode.filter(alias_of_id=code.id, is_active=True)
        .using_db(conn)
        .update(is_active=False)
    )


async def deactivate_code(*, user_id: int, program_id: int, code_id: int) -> ShareCode:
    """The caller withdraws one of their codes (with its aliases); its text stays reserved."""
    # Allowed whatever the profile's status: pulling a code is never something to prevent.
    async with in_transaction() as conn:
        code = (
            await ShareCode.filter(id=code_id, program_id=program_id, promoter__user_id=user_id)
            .using_db(conn)
            .select_for_update()
            .first()
        )
        if code is None:
            raise NotFound("no such code", code="code_not_found", fields={"code_id": code_id})
        await deactivate_with_aliases(code, conn=conn)
        await code.fetch_related("aliases", using_db=conn)
    return code


async def deactivate_code_by_staff(
    *, code_id: int, actor: Principal, request_id: str | None = None
) -> ShareCode:
    """Staff withdraw a code (with its aliases), audited."""
    async with in_transaction() as conn:
        code = await ShareCode.filter(id=code_id).using_db(conn).select_for_update().first()
        if code is None:
            raise NotFound("no such code", code="code_not_found", fields={"code_id": code_id})
        was_active = code.is_active
        aliases = await deactivate_with_aliases(code, conn=conn)
        await record_action(
            actor=actor,
            action="share_code.deactivate",
            target_kind="share_code",
            target_id=code.id,
            program_id=code.program_id,
            details={"code": code.code, "was_active": was_active, "aliases_deactivated": aliases},
            request_id=request_id,
            using_db=conn,
        )
    return code


async def own_code(*, user_id: int, program_id: int, code_id: int) -> ShareCode:
    """One of the caller's codes or aliases, as it was created (a replayed creation)."""
    code = await ShareCode.filter(
        id=code_id, program_id=program_id, promoter__user_id=user_id
    ).first()
    if code is None:
        raise NotFound("no such code", code="code_not_found", fields={"code_id": code_id})
    return code


async def list_codes(
    *, user_id: int, program_id: int, cursor: int | None = None, limit: int = 50
) -> list[ShareCode]:
    """The caller's codes (not aliases) in the program with their aliases, paged by id."""
    promoter = await latest_promoter(user_id=user_id, program_id=program_id)
    query = ShareCode.filter(promoter_id=promoter.id, alias_of_id=None)
    if cursor is not None:
        query = query.filter(id__gt=cursor)
    return await query.order_by("id").limit(min(limit, MAX_PAGE_SIZE)).prefetch_related("aliases")


async def list_program_codes(
    *,
    program_id: int,
    promoter_id: int | None = None,
    q: str | None = None,
    cursor: int | None = None,
    limit: int = 50,
) -> list[ShareCode]:
    """Every code and alias of a program for staff, filtered by promoter or text, by id."""
    query = ShareCode.filter(program_id=program_id)
    if promoter_id is not None:
        query = query.filter(promoter_id=promoter_id)
    return await page_by_text(query, q=q, cursor=cursor, limit=limit)


async def page_by_text(
    query: QuerySet[M], *, q: str | None, cursor: int | None, limit: int
) -> list[M]:
    """One page by id of rows whose `normalized` code text contains `q` (any case)."""
    if q:
        query = query.filter(normalized__contains=normalize_code(q))
    if cursor is not None:
        query = query.filter(id__gt=cursor)
    return await query.order_by("id").limit(min(limit, MAX_PAGE_SIZE))


def _counts(code: ShareCode) -> bool:
    """An active code whose text staff approved (or the server drew) may credit someone."""
    return code.is_active and code.review_status == CodeReview.APPROVED


async def resolve_code(*, program_id: int, code: str) -> ResolvedCode | None:
    """The promoter, channel and code a typed code credits, or None if it credits nobody."""
    normalized = normalize_code(code)
    if not normalized or len(normalized) > MAX_CODE_LENGTH:
        return None
    matched = await ShareCode.get_or_none(program_id=program_id, normalized=normalized)
    if matched is None or not _counts(matched):
        return None
    # The store's own coupon text credits nobody, even when a promoter held it first.
    if await is_reserved(program_id=program_id, normalized=normalized):
        return None
    target = matched
    if matched.alias_of_id is not None:
        target = await ShareCode.get_or_none(id=matched.alias_of_id)
        if target is None or not _counts(target):
            return None
    promoter = await Promoter.get_or_none(id=target.promoter_id)
    if promoter is None or promoter.status != PromoterStatus.APPROVED.value:
        return None
    return ResolvedCode(
        program_id=program_id,
        promoter_id=promoter.id,
        channel_id=target.channel_id,
        code_id=target.id,
        code=target.code,
        kind=target.kind,
        matched_code_id=matched.id,
        matched_code=matched.code,
    )


async def why_code_credits_nobody(*, program_id: int, code: str) -> str:
    """For the order's evidence: why a typed code that `resolve_code` refused credits nobody."""
    normalized = normalize_code(code)
    if await is_reserved(program_id=program_id, normalized=normalized):
        return "reserved_by_store"
    matched = await ShareCode.get_or_none(program_id=program_id, normalized=normalized)
    if matched is not None and matched.is_active and matched.review_status != CodeReview.APPROVED:
        return "code_not_approved"
    return "unknown_or_inactive_code"


def serialize_code(code: ShareCode) -> dict[str, Any]:
    """A promoter's view of their code, with its aliases when they were fetched."""
    body: dict[str, Any] = {
        "id": code.id,
        "kind": code.kind,
        "code": code.code,
        "channel_id": code.channel_id,
        "alias_of_id": code.alias_of_id,
        "is_active": code.is_active,
        "review_status": code.review_status,
        "created_at": code.created_at,
    }
    if code.alias_of_id is None:
        # Listed codes come with their aliases prefetched; a code just created has none.
        aliases = code.aliases.related_objects if code.aliases._fetched else []
        body["aliases"] = [
            {
                "id": a.id,
                "code": a.code,
                "is_active": a.is_active,
                "review_status": a.review_status,
                "created_at": a.created_at,
            }
            for a in sorted(aliases, key=lambda a: a.id)
        ]
    return body


def serialize_code_for_staff(code: ShareCode) -> dict[str, Any]:
    return {
        "id": code.id,
        "program_id": code.program_id,
        "promoter_id": code.promoter_id,
        "kind": code.kind,
        "code": code.code,
        "normalized": code.normalized,
        "channel_id": code.channel_id,
        "alias_of_id": code.alias_of_id,
        "is_active": code.is_active,
        "review_status": code.review_status,
        "reviewed_at": code.reviewed_at,
        "created_at": code.created_at,
    }
