"""Share links: code + channel + site + UTM behind a short scene code, as an H5 URL and a
mini-program path, and the public resolver a shared page calls when it opens."""

from __future__ import annotations

import hashlib
import json
from typing import Any
from urllib.parse import urlencode

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from server.config import Settings
from server.domain.errors import Conflict, Forbidden, NotFound, ValidationFailed
from server.domain.masking import mask_name
from server.domain.promoters.status import PromoterStatus
from server.domain.sharing.codes import generate_scene
from server.domain.sharing.destinations import Destination, opening_query, parse_destination
from server.domain.sharing.rules import CodeReview
from server.models import Promoter, PromoterSite, ShareCode, ShareLink, Site
from server.services.promoters.agreements import require_current_agreement
from server.services.sharing.channels import (
    MAX_PAGE_SIZE,
    latest_promoter,
    own_channel,
    sharing_promoter,
)
from server.services.sharing.quotas import LINKS, refuse_over_quota, sharing_rules_of

UTM_MAX_LENGTH = 64
SHORT_CODE_ATTEMPTS = 8
# One retry covers the rare race: a concurrent identical request or a short-code collision.
CREATE_ATTEMPTS = 2


def _clean_utm(name: str, value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if len(value) > UTM_MAX_LENGTH:
        raise ValidationFailed(
            f"{name} is longer than {UTM_MAX_LENGTH} characters",
            code="invalid_utm",
            fields={name: f"at most {UTM_MAX_LENGTH} characters"},
        )
    return value or None


def link_params_key(
    *,
    channel_id: int | None,
    site_id: int | None,
    code_id: int | None,
    utm_source: str | None,
    utm_medium: str | None,
    utm_campaign: str | None,
    destination: str | None = None,
) -> str:
    """The fingerprint that makes the same parameters give back the same link."""
    params: list[object] = [channel_id, site_id, code_id, utm_source, utm_medium, utm_campaign]
    # Appended only when set, so links made before destinations keep their fingerprint.
    if destination is not None:
        params.append(destination)
    canonical = json.dumps(
        params,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def h5_url(link: ShareLink, *, settings: Settings, via: str | None = None) -> str:
    """`{public_base_url}/s/{short_code}?code=…&ch=…&utm_…[&via=qr]` (the path alone names it)."""
    query: dict[str, str] = {}
    if link.code_id is not None:
        query["code"] = link.code.code
    if link.channel_id is not None:
        query["ch"] = str(link.channel_id)
    for name in ("utm_source", "utm_medium", "utm_campaign"):
        value = getattr(link, name)
        if value:
            query[name] = value
    if via is not None:
        query["via"] = via
    url = f"{settings.public_base_url.rstrip('/')}/s/{link.short_code}"
    return f"{url}?{urlencode(query)}" if query else url


def link_destination(link: ShareLink) -> Destination | None:
    """The page the link opens, as stored (validated when the link was made)."""
    return parse_destination(link.destination) if link.destination else None


def mp_page(link: ShareLink, *, settings: Settings) -> str:
    """The mini-program page the link's codes open: its destination's, else the share page."""
    destination = link_destination(link)
    return destination.page if destination is not None else settings.mp_share_page


def mp_path(link: ShareLink, *, settings: Settings) -> str:
    query = opening_query(link_destination(link), short_code=link.short_code)
    return f"{mp_page(link, settings=settings)}?{query}"


async def _authorized_site(
    *, promoter: Promoter, program_id: int, site_id: int, conn: BaseDBAsyncClient
) -> Site:
    """An active site of the program the promoter may promote."""
    # Site grants restrict, they are not required: with none, any active site will do.
    site = (
        await Site.filter(id=site_id, program_id=program_id, is_active=True).using_db(conn).first()
    )
    if site is None:
        raise NotFound("no such site", code="site_not_found", fields={"site_id": site_id})
    granted = (
        await PromoterSite.filter(promoter_id=promoter.id)
        .using_db(conn)
        .values_list("site_id", flat=True)
    )
    if granted and site.id not in granted:
        raise Forbidden(
            "you are not authorized for this site",
            code="site_not_authorized",
            fields={"site_id": site_id},
        )
    return site


async def _own_active_code(
    *, promoter: Promoter, code_id: int, conn: BaseDBAsyncClient
) -> ShareCode:
    code = await ShareCode.filter(id=code_id, promoter_id=promoter.id).using_db(conn).first()
    if code is None:
        raise NotFound("no such code", code="code_not_found", fields={"code_id": code_id})
    if not code.is_active:
        raise Conflict("the code is deactivated", code="code_inactive", fields={"code_id": code_id})
    if code.review_status != CodeReview.APPROVED:
        # A link would print a code that credits nobody (yet).
        raise Conflict(
            "the code is not approved", code="code_not_approved", fields={"code_id": code_id}
        )
    return code


async def _create_or_find(
    *,
    user_id: int,
    program_id: int,
    channel_id: int | None,
    site_id: int | None,
    code_id: int | None,
    utm: dict[str, str | None],
    destination: str | None,
) -> tuple[ShareLink, bool]:
    async with in_transaction() as conn:
        promoter = await sharing_promoter(
            user_id=user_id, program_id=program_id, using_db=conn, lock=True
        )
        if channel_id is not None:
            await own_channel(promoter=promoter, channel_id=channel_id, using_db=conn)
        if code_id is not None:
            await _own_active_code(promoter=promoter, code_id=code_id, conn=conn)
        if site_id is not None:
            await _authorized_site(
                promoter=promoter, program_id=program_id, site_id=site_id, conn=conn
            )
        key = link_params_key(
            channel_id=channel_id,
            site_id=site_id,
            code_id=code_id,
            destination=destination,
            **utm,
        )
        existing = (
            await ShareLink.filter(promoter_id=promoter.id, params_key=key).using_db(conn).first()
        )
        if existing is not None:
            await existing.fetch_related("code", using_db=conn)
            return existing, False
        await require_current_agreement(promoter=promoter, conn=conn)
        rules = await sharing_rules_of(program_id=program_id, conn=conn)
        await refuse_over_quota(promoter_id=promoter.id, rules=rules, instrument=LINKS, conn=conn)
        for _ in range(SHORT_CODE_ATTEMPTS):
            short_code = generate_scene()
            # MariaDB compares case-insensitively, so "aB" and "Ab" must not both exist.
            if not await ShareLink.filter(short_code=short_code).using_db(conn).exists():
                break
        else:
            raise Conflict(
                "could not allocate a short code, try again", code="short_code_exhausted"
            )
        link = await ShareLink.create(
            program_id=program_id,
            promoter_id=promoter.id,
            channel_id=channel_id,
            site_id=site_id,
            code_id=code_id,
            short_code=short_code,
            params_key=key,
            destination=destination,
            using_db=conn,
            **utm,
        )
        await link.fetch_related("code", using_db=conn)
        return link, True


async def create_link(
    *,
    user_id: int,
    program_id: int,
    channel_id: int | None = None,
    site_id: int | None = None,
    code_id: int | None = None,
    utm_source: str | None = None,
    utm_medium: str | None = None,
    utm_campaign: str | None = None,
    destination: str | None = None,
) -> tuple[ShareLink, bool]:
    """A share link for these parameters: new (True) or the existing identical one (False)."""
    page = str(parse_destination(destination)) if destination is not None else None
    utm = {
        "utm_source": _clean_utm("utm_source", utm_source),
        "utm_medium": _clean_utm("utm_medium", utm_medium),
        "utm_campaign": _clean_utm("utm_campaign", utm_campaign),
    }
    for attempt in range(CREATE_ATTEMPTS):
        try:
            return await _create_or_find(
                user_id=user_id,
                program_id=program_id,
                channel_id=channel_id,
                site_id=site_id,
                code_id=code_id,
                utm=utm,
                destination=page,
            )
        except IntegrityError:
            # The next pass finds the concurrent twin or draws another short code.
            if attempt == CREATE_ATTEMPTS - 1:
                raise Conflict(
                    "the link could not be created, try again", code="link_conflict"
                ) from None
    raise AssertionError("unreachable")  # pragma: no cover


async def list_links(
    *, user_id: int, program_id: int, cursor: int | None = None, limit: int = 50
) -> list[ShareLink]:
    """The caller's links in the program, oldest first, paged by id."""
    promoter = await latest_promoter(user_id=user_id, program_id=program_id)
    query = ShareLink.filter(promoter_id=promoter.id)
    if cursor is not None:
        query = query.filter(id__gt=cursor)
    return await query.order_by("id").limit(min(limit, MAX_PAGE_SIZE)).prefetch_related("code")


async def own_link(*, user_id: int, program_id: int, link_id: int) -> ShareLink:
    """One of the caller's links, for an approved promoter (QR images are share instruments)."""
    promoter = await sharing_promoter(user_id=user_id, program_id=program_id)
    link = await ShareLink.filter(id=link_id, promoter_id=promoter.id).first()
    if link is None:
        raise NotFound("no such link", code="link_not_found", fields={"link_id": link_id})
    await link.fetch_related("code")
    return link


async def resolve_short_code(*, short_code: str) -> ShareLink:
    """The link behind a short code, as a shared page or scanned code sees it."""
    link = (
        await ShareLink.filter(short_code=short_code)
        .select_related("program", "promoter__user", "site", "code")
        .first()
    )
    # Short codes are case-sensitive; MariaDB's collation is not, so confirm the match.
    if link is None or link.short_code != short_code:
        raise NotFound("no such link", code="link_not_found")
    if link.promoter.status != PromoterStatus.APPROVED.value or link.program.status != "active":
        raise NotFound("this link no longer credits anyone", code="link_inactive")
    return link


def serialize_link(link: ShareLink, *, settings: Settings) -> dict[str, Any]:
    """The promoter's view of their link (its code relation must be fetched)."""
    return {
        "id": link.id,
        "short_code": link.short_code,
        "channel_id": link.channel_id,
        "site_id": link.site_id,
        "code_id": link.code_id,
        "code": link.code.code if link.code_id is not None else None,
        "utm_source": link.utm_source,
        "utm_medium": link.utm_medium,
        "utm_campaign": link.utm_campaign,
        "destination": link.destination,
        "h5_url": h5_url(link, settings=settings),
        "mp_path": mp_path(link, settings=settings),
        "created_at": link.created_at,
    }


def serialize_destination(destination: Destination | None) -> dict[str, str] | None:
    if destination is None:
        return None
    return {"page": destination.page, "query": destination.query}


def serialize_public_link(link: ShareLink) -> dict[str, Any]:
    """What anyone holding the short code may learn; a withdrawn code is left out."""
    code = link.code if link.code_id is not None and link.code.is_active else None
    site = link.site if link.site_id is not None else None
    return {
        "short_code": link.short_code,
        "program": {"id": link.program.id, "name": link.program.name},
        "promoter": {
            "invite_code": link.promoter.invite_code,
            "nickname": mask_name(link.promoter.user.nickname),
        },
        "channel_id": link.channel_id,
        "site": (
            {"id": site.id, "domain": site.domain, "name": site.name} if site is not None else None
        ),
        "code": code.code if code is not None else None,
        "utm": {
            "source": link.utm_source,
            "medium": link.utm_medium,
            "campaign": link.utm_campaign,
        },
        "destination": serialize_destination(link_destination(link)),
    }
