"""The landing page behind a share link's H5 URL (`/s/<code>`): the visit it records, the
WeChat URL Link that opens the mini-program (one per visitor, cached until near expiry) and
the code to type where no link works."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from server import clock
from server.config import Settings
from server.domain.errors import FenxiaoError, NotFound, TooManyRequests, UpstreamUnavailable
from server.domain.fraud.identity import device_key, hash_identifier
from server.domain.masking import mask_name
from server.domain.sharing.attribution import TouchSource
from server.domain.sharing.codes import SHORT_CODE_MAX_LENGTH
from server.domain.sharing.destinations import Destination, opening_query
from server.integrations.wechat import WeChatGateway
from server.models import ShareCode, ShareLink, ShareUrlLink
from server.services.sharing import visits
from server.services.sharing.links import link_destination, mp_page, resolve_short_code
from server.services.sharing.visit_buffer import VisitBuffer
from server.services.sharing.visit_targets import TargetCache, link_target

log = logging.getLogger("fenxiao.landing")

# WeChat URL Links live at most 30 days; one is asked for 29 and replaced a day before it
# ends, so a page never hands out a link that dies while the customer reads it.
URL_LINK_VALID_DAYS = 29
URL_LINK_REFRESH_BEFORE = timedelta(days=1)
# Each new URL Link deletes at most this many expired ones, which keeps the table to the
# links still alive without a job.
EXPIRED_URL_LINKS_PER_WRITE = 100
UTM_MAX_LENGTH = 64
# After WeChat fails or throttles, a worker stops asking for this long: pages open at once
# with the code instead of each waiting out WECHAT_TIMEOUT_SECONDS.
WECHAT_PAUSE = timedelta(seconds=30)


class WeChatPause:
    """Per worker: when WeChat last failed to make a URL Link, so pages skip asking a while."""

    def __init__(self, *, pause: timedelta = WECHAT_PAUSE) -> None:
        self.pause = pause
        self._until: datetime | None = None

    def allows(self) -> bool:
        return self._until is None or clock.now() >= self._until

    def failed(self) -> None:
        self._until = clock.now() + self.pause


@dataclass(frozen=True)
class Landing:
    """What the landing page shows of one share link."""

    short_code: str
    program_name: str
    promoter_nickname: str | None
    code: str | None
    destination: Destination | None
    url_link: str | None


@dataclass(frozen=True)
class LandingVisit:
    """The request that opened the landing, as the visit records it."""

    reached_by: TouchSource
    # The landing page's own id for the browser (a cookie), hashed like any visitor id.
    visitor_id: str
    ip: str | None
    user_agent: str | None
    utm_source: str | None = None
    utm_medium: str | None = None
    utm_campaign: str | None = None


def _fitting_utm(value: str | None) -> str | None:
    # A hand-edited URL with an oversized tag still opens the page; the tag is dropped.
    return value if value is not None and len(value) <= UTM_MAX_LENGTH else None


async def _record(
    *,
    link: ShareLink,
    visit: LandingVisit,
    buffer: VisitBuffer,
    targets: TargetCache,
    settings: Settings,
) -> None:
    try:
        await visits.record_visit(
            buffer=buffer,
            targets=targets,
            settings=settings,
            short_code=link.short_code,
            program_id=None,
            code=None,
            source="h5",
            reached_by=visit.reached_by,
            visitor_id=visit.visitor_id,
            utm_source=_fitting_utm(visit.utm_source),
            utm_medium=_fitting_utm(visit.utm_medium),
            utm_campaign=_fitting_utm(visit.utm_campaign),
            ip=visit.ip,
            user_agent=visit.user_agent,
            target=link_target(link),
        )
    except FenxiaoError as exc:
        # The customer still gets the page when the visit cannot be taken (a full buffer).
        log.warning("landing visit to %s not recorded: %s", link.short_code, exc.code)


async def _code_to_type(link: ShareLink) -> str | None:
    """The link's own code, else the promoter's first referral code, while active."""
    if link.code_id is not None and link.code.is_active:
        return link.code.code
    first = (
        await ShareCode.filter(
            program_id=link.program_id,
            promoter_id=link.promoter_id,
            kind="referral",
            alias_of_id=None,
            is_active=True,
        )
        .order_by("id")
        .first()
    )
    return first.code if first is not None else None


def url_link_visitor(visit: LandingVisit, *, settings: Settings) -> str:
    """The visitor a URL Link is kept for: the hash their visits carry."""
    return hash_identifier(device_key(visit.visitor_id), salt=settings.visitor_hash_salt) or ""


async def ensure_url_link(
    *, link: ShareLink, visitor_hash: str, wechat: WeChatGateway, settings: Settings
) -> str:
    """The visitor's URL Link for the link: the cached one while fresh and true, else new."""
    now = clock.now()
    path = mp_page(link, settings=settings)
    query = opening_query(link_destination(link), short_code=link.short_code)
    opens = f"{path}?{query}"
    cached = await ShareUrlLink.get_or_none(share_link_id=link.id, visitor_hash=visitor_hash)
    fresh = cached is not None and cached.expires_at - URL_LINK_REFRESH_BEFORE > now
    if fresh and cached is not None and cached.opens == opens:
        return cached.url
    # An interval, not a timestamp: WeChat counts it on its own clock.
    url = await wechat.generate_url_link(path=path, query=query, valid_days=URL_LINK_VALID_DAYS)
    expires_at = now + timedelta(days=URL_LINK_VALID_DAYS)
    try:
        async with in_transaction() as conn:
            stored = (
                await ShareUrlLink.filter(share_link_id=link.id, visitor_hash=visitor_hash)
                .using_db(conn)
                .update(url=url, opens=opens, expires_at=expires_at, refreshed_at=now)
            )
            if not stored:
                await ShareUrlLink.create(
                    share_link_id=link.id,
                    visitor_hash=visitor_hash,
                    url=url,
                    opens=opens,
                    expires_at=expires_at,
                    refreshed_at=now,
                    using_db=conn,
                )
            expired = (
                await ShareUrlLink.filter(expires_at__lte=now)
                .using_db(conn)
                .limit(EXPIRED_URL_LINKS_PER_WRITE)
                .values_list("id", flat=True)
            )
            if expired:
                await ShareUrlLink.filter(id__in=list(expired)).using_db(conn).delete()
    except IntegrityError:
        # The same visitor's concurrent first open stored its link; this one is as good.
        pass
    return url


async def _url_link_or_none(
    *,
    link: ShareLink,
    visit: LandingVisit | None,
    wechat: WeChatGateway,
    pause: WeChatPause,
    settings: Settings,
) -> str | None:
    # Nobody to open it for: a HEAD, or a crawler or link previewer (each would spend one
    # of the 500,000 links WeChat makes a mini-program per day).
    if visit is None or visits.is_bot_user_agent(visit.user_agent) or not pause.allows():
        return None
    try:
        return await ensure_url_link(
            link=link,
            visitor_hash=url_link_visitor(visit, settings=settings),
            wechat=wechat,
            settings=settings,
        )
    except (UpstreamUnavailable, TooManyRequests) as exc:
        pause.failed()
        log.warning(
            "no URL Link for %s: %s; not asking for %s", link.short_code, exc.code, pause.pause
        )
        return None
    except FenxiaoError as exc:
        # WeChat refusing this link (an unpublished destination page): the code still works.
        log.warning("no URL Link for %s: %s", link.short_code, exc.code)
        return None


async def open_landing(
    *,
    short_code: str,
    visit: LandingVisit | None,
    buffer: VisitBuffer,
    targets: TargetCache,
    settings: Settings,
    wechat: WeChatGateway,
    pause: WeChatPause,
) -> Landing:
    """A share link's landing, its visit recorded unless `visit` is None; 404 if inactive."""
    if len(short_code) > SHORT_CODE_MAX_LENGTH:
        raise NotFound("no such link", code="link_not_found")
    link = await resolve_short_code(short_code=short_code)
    if visit is not None:
        await _record(link=link, visit=visit, buffer=buffer, targets=targets, settings=settings)
    return Landing(
        short_code=link.short_code,
        program_name=link.program.name,
        promoter_nickname=mask_name(link.promoter.user.nickname),
        code=await _code_to_type(link),
        destination=link_destination(link),
        url_link=await _url_link_or_none(
            link=link, visit=visit, wechat=wechat, pause=pause, settings=settings
        ),
    )
