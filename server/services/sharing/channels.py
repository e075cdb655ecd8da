"""Share instruments, part 1: who may share (the caller's promoter profile) and channels.

Codes live in share_codes.py, links in share_links.py, QR images in qr_codes.py.
"""

from __future__ import annotations

from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from server.domain.errors import Conflict, Forbidden, NotFound, ValidationFailed
from server.domain.pagination import MAX_PAGE_SIZE
from server.domain.promoters.status import PromoterStatus
from server.models import Channel, Promoter
from server.services.sharing.quotas import CHANNELS, refuse_over_quota, sharing_rules_of

MAX_CHANNEL_NAME_LENGTH = 64


async def sharing_promoter(
    *,
    user_id: int,
    program_id: int,
    using_db: BaseDBAsyncClient | None = None,
    lock: bool = False,
) -> Promoter:
    """The caller's approved promoter profile in the program, the only one that may share."""
    # `lock` takes a row lock (MariaDB) so per-promoter caps hold under concurrency.
    query = Promoter.filter(
        user_id=user_id, program_id=program_id, status=PromoterStatus.APPROVED.value
    )
    if using_db is not None:
        query = query.using_db(using_db)
    if lock:
        query = query.select_for_update()
    promoter = await query.order_by("-id").first()
    if promoter is not None:
        return promoter
    exists = Promoter.filter(user_id=user_id, program_id=program_id)
    if using_db is not None:
        exists = exists.using_db(using_db)
    if await exists.exists():
        raise Forbidden("your promoter profile is not active", code="promoter_not_active")
    raise NotFound("you are not a promoter of this program", code="promoter_not_found")


async def latest_promoter(*, user_id: int, program_id: int) -> Promoter:
    """The caller's most recent profile in the program, whatever its status (for reading)."""
    promoter = await Promoter.filter(user_id=user_id, program_id=program_id).order_by("-id").first()
    if promoter is None:
        raise NotFound("you are not a promoter of this program", code="promoter_not_found")
    return promoter


async def own_channel(
    *,
    promoter: Promoter,
    channel_id: int,
    using_db: BaseDBAsyncClient | None = None,
    require_active: bool = True,
) -> Channel:
    """One of the promoter's channels; another promoter's channel looks like a missing one."""
    query = Channel.filter(id=channel_id, promoter_id=promoter.id)
    if using_db is not None:
        query = query.using_db(using_db)
    channel = await query.first()
    if channel is None:
        raise NotFound(
            "no such channel", code="channel_not_found", fields={"channel_id": channel_id}
        )
    if require_active and not channel.is_active:
        raise Conflict(
            "the channel is deactivated", code="channel_inactive", fields={"channel_id": channel_id}
        )
    return channel


def _checked_name(name: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= MAX_CHANNEL_NAME_LENGTH:
        raise ValidationFailed(
            "a channel name has 1 to 64 characters",
            code="invalid_channel_name",
            fields={"name": f"1 to {MAX_CHANNEL_NAME_LENGTH} characters"},
        )
    return name


async def _refuse_duplicate_name(
    *, promoter_id: int, name: str, conn: BaseDBAsyncClient, except_id: int | None = None
) -> None:
    # "Video" and "video" are one channel: MariaDB's collation makes the unique index
    # case-insensitive but SQLite's does not, so check explicitly for the same answer on both.
    query = Channel.filter(promoter_id=promoter_id, name__iexact=name).using_db(conn)
    if except_id is not None:
        query = query.exclude(id=except_id)
    if await query.exists():
        raise Conflict(
            "you already have a channel with this name",
            code="channel_exists",
            fields={"name": name},
        )


async def create_channel(*, user_id: int, program_id: int, name: str) -> Channel:
    """Create a named channel for the caller's approved promoter profile."""
    name = _checked_name(name)
    async with in_transaction() as conn:
        promoter = await sharing_promoter(
            user_id=user_id, program_id=program_id, using_db=conn, lock=True
        )
        await _refuse_duplicate_name(promoter_id=promoter.id, name=name, conn=conn)
        rules = await sharing_rules_of(program_id=program_id, conn=conn)
        await refuse_over_quota(
            promoter_id=promoter.id, rules=rules, instrument=CHANNELS, conn=conn
        )
        try:
            return await Channel.create(promoter_id=promoter.id, name=name, using_db=conn)
        except IntegrityError:
            raise Conflict(
                "you already have a channel with this name",
                code="channel_exists",
                fields={"name": name},
            ) from None


async def caller_channel(*, user_id: int, program_id: int, channel_id: int) -> Channel:
    """One of the caller's channels in the program, active or not (a replayed creation)."""
    channel = await Channel.filter(
        id=channel_id, promoter__user_id=user_id, promoter__program_id=program_id
    ).first()
    if channel is None:
        raise NotFound(
            "no such channel", code="channel_not_found", fields={"channel_id": channel_id}
        )
    return channel


async def list_channels(
    *, user_id: int, program_id: int, cursor: int | None = None, limit: int = 50
) -> list[Channel]:
    """The caller's channels in the program, oldest first, paged by id."""
    promoter = await latest_promoter(user_id=user_id, program_id=program_id)
    query = Channel.filter(promoter_id=promoter.id)
    if cursor is not None:
        query = query.filter(id__gt=cursor)
    return await query.order_by("id").limit(min(limit, MAX_PAGE_SIZE))


async def update_channel(
    *,
    user_id: int,
    program_id: int,
    channel_id: int,
    name: str | None = None,
    is_active: bool | None = None,
) -> Channel:
    """Rename a channel or (de)activate it."""
    # A deactivated channel takes no new codes or links; those tied to it keep attributing to
    # it, so history stays whole.
    async with in_transaction() as conn:
        promoter = await sharing_promoter(user_id=user_id, program_id=program_id, using_db=conn)
        channel = await own_channel(
            promoter=promoter, channel_id=channel_id, using_db=conn, require_active=False
        )
        if name is not None:
            channel.name = _checked_name(name)
            await _refuse_duplicate_name(
                promoter_id=promoter.id, name=channel.name, conn=conn, except_id=channel.id
            )
        if is_active is not None:
            channel.is_active = is_active
        try:
            await channel.save(using_db=conn)
        except IntegrityError:
            raise Conflict(
                "you already have a channel with this name",
                code="channel_exists",
                fields={"name": channel.name},
            ) from None
    return channel


def serialize_channel(channel: Channel) -> dict[str, Any]:
    return {
        "id": channel.id,
        "name": channel.name,
        "is_active": channel.is_active,
        "created_at": channel.created_at,
    }
