"""What a short code or a typed code credits (program, promoter, channel, code, site, UTM),
and the per-worker TTL cache that keeps that look-up off the visit hot path.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from server.domain.errors import NotFound
from server.domain.sharing.codes import normalize_code
from server.models import Program, ShareLink
from server.services.sharing import codes as share_codes
from server.services.sharing import links as share_links

# A just-suspended promoter's links may record visits this long per worker (bindings re-read
# the promoter's status, so they are not affected); a reinstated one's may be refused as long.
DEFAULT_TTL_SECONDS = 60.0
# Oldest entries are dropped past this, so a flood of made-up codes cannot grow the cache.
DEFAULT_MAX_ENTRIES = 50_000
MAX_TYPED_CODE_LENGTH = 32


@dataclass(frozen=True, slots=True)
class VisitTarget:
    """Who and what a visit through one instrument credits."""

    program_id: int
    promoter_id: int
    channel_id: int | None
    code_id: int | None
    site_id: int | None
    share_link_id: int | None
    utm_source: str | None
    utm_medium: str | None
    utm_campaign: str | None


@dataclass(frozen=True, slots=True)
class _Missing:
    """A cached refusal: the NotFound to raise again (a fresh one each time)."""

    code: str
    message: str

    def error(self) -> NotFound:
        return NotFound(self.message, code=self.code)


async def resolve_link_target(*, short_code: str) -> VisitTarget:
    """The target of a share link, or 404 link_not_found / link_inactive."""
    return link_target(await share_links.resolve_short_code(short_code=short_code))


def link_target(link: ShareLink) -> VisitTarget:
    """What a visit through this resolved link (its code fetched) credits."""
    # A withdrawn code stays on the link but credits nobody.
    code_id = link.code_id if link.code_id is not None and link.code.is_active else None
    return VisitTarget(
        program_id=link.program_id,
        promoter_id=link.promoter_id,
        channel_id=link.channel_id,
        code_id=code_id,
        site_id=link.site_id,
        share_link_id=link.id,
        utm_source=link.utm_source,
        utm_medium=link.utm_medium,
        utm_campaign=link.utm_campaign,
    )


async def resolve_code_target(*, program_id: int, code: str) -> VisitTarget:
    """The target of a typed code in an active program, or 404 code_not_found."""
    resolved = await share_codes.resolve_code(program_id=program_id, code=code)
    if resolved is None or not await Program.exists(id=program_id, status="active"):
        raise NotFound("this code credits no one", code="code_not_found")
    return VisitTarget(
        program_id=program_id,
        promoter_id=resolved.promoter_id,
        channel_id=resolved.channel_id,
        code_id=resolved.code_id,
        site_id=None,
        share_link_id=None,
        utm_source=None,
        utm_medium=None,
        utm_campaign=None,
    )


class TargetCache:
    """Short code / typed code → VisitTarget (or a refusal), kept for `ttl_seconds`, bounded."""

    def __init__(
        self,
        *,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        max_entries: int = DEFAULT_MAX_ENTRIES,
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self._entries: dict[tuple[object, ...], tuple[float, VisitTarget | _Missing]] = {}

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def _get(self, key: tuple[object, ...]) -> VisitTarget | _Missing | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, value = entry
        if expires <= time.monotonic():
            del self._entries[key]
            return None
        return value

    def _put(self, key: tuple[object, ...], value: VisitTarget | _Missing) -> None:
        if len(self._entries) >= self.max_entries:
            # Dicts keep insertion order: the first keys are the oldest entries.
            for stale in list(self._entries)[: max(1, self.max_entries // 10)]:
                del self._entries[stale]
        self._entries[key] = (time.monotonic() + self.ttl_seconds, value)

    async def _cached(
        self, key: tuple[object, ...], resolve: Callable[[], Awaitable[VisitTarget]]
    ) -> VisitTarget:
        found = self._get(key)
        if found is None:
            try:
                found = await resolve()
            except NotFound as exc:
                found = _Missing(code=exc.code, message=exc.message)
            self._put(key, found)
        if isinstance(found, _Missing):
            raise found.error()
        return found

    async def link(self, *, short_code: str) -> VisitTarget:
        """`resolve_link_target`, cached."""
        return await self._cached(
            ("link", short_code), lambda: resolve_link_target(short_code=short_code)
        )

    async def code(self, *, program_id: int, code: str) -> VisitTarget:
        """`resolve_code_target`, cached under the code's normalized form."""
        normalized = normalize_code(code)
        if not normalized or len(normalized) > MAX_TYPED_CODE_LENGTH:
            raise NotFound("this code credits no one", code="code_not_found")
        return await self._cached(
            ("code", program_id, normalized),
            lambda: resolve_code_target(program_id=program_id, code=normalized),
        )
