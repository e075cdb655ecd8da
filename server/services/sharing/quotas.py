"""The program's sharing rules as the share services apply them: per-promoter quotas on links,
codes and channels, and the store's reserved code texts."""

from __future__ import annotations

from tortoise.backends.base.client import BaseDBAsyncClient

from server.domain.errors import NotFound
from server.domain.sharing.rules import SharingRules, check_quota, sharing_rules_from
from server.models import Channel, Program, ReservedCode, ShareCode, ShareLink

LINKS = "links"
CODES = "codes"
CHANNELS = "channels"


async def sharing_rules_of(*, program_id: int, conn: BaseDBAsyncClient) -> SharingRules:
    """The program's sharing rules (defaults for what it does not set)."""
    stored = (
        await Program.filter(id=program_id).using_db(conn).values_list("sharing_rules", flat=True)
    )
    if not stored:
        raise NotFound("no such program", code="program_not_found")
    return sharing_rules_from(stored[0])


async def refuse_over_quota(
    *, promoter_id: int, rules: SharingRules, instrument: str, conn: BaseDBAsyncClient
) -> None:
    """Refuse (422 quota_exceeded) one more link, code or channel over the program's quota."""
    # Callers hold the promoter's row lock, so two creations cannot both take the last slot.
    if instrument == LINKS:
        count = await ShareLink.filter(promoter_id=promoter_id).using_db(conn).count()
        limit = rules.max_links_per_promoter
    elif instrument == CODES:
        count = (
            await ShareCode.filter(promoter_id=promoter_id, is_active=True).using_db(conn).count()
        )
        limit = rules.max_codes_per_promoter
    else:
        count = await Channel.filter(promoter_id=promoter_id).using_db(conn).count()
        limit = rules.max_channels_per_promoter
    check_quota(instrument=instrument, count=count, limit=limit)


async def is_reserved(
    *, program_id: int, normalized: str, conn: BaseDBAsyncClient | None = None
) -> bool:
    """True when the store registered this code text as its own."""
    query = ReservedCode.filter(program_id=program_id, normalized=normalized)
    if conn is not None:
        query = query.using_db(conn)
    return await query.exists()
