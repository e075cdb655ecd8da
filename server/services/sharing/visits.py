"""Visits: a click on a share link, a scan of its QR code or a typed code, recorded cheaply on
the request path and written in bulk by the worker's VisitBuffer.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Literal

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from server import clock
from server.config import Settings
from server.db import is_mysql, param_marker
from server.domain.errors import FenxiaoError, ValidationFailed
from server.domain.fraud.identity import device_key, hash_identifier
from server.domain.sharing.attribution import TouchSource
from server.models import Visit
from server.services.fraud.inline import VisitScreen
from server.services.reports.marks import mark_instants
from server.services.sharing.bindings import bind_from_touch, customer_keys
from server.services.sharing.visit_buffer import PendingVisit, VisitBuffer
from server.services.sharing.visit_targets import TargetCache, VisitTarget

log = logging.getLogger("fenxiao.visits")

VisitSource = Literal["mp", "h5", "s2s"]
VISIT_SOURCES = ("mp", "h5", "s2s")
UTM_MAX_LENGTH = 64
MAX_VISITOR_ID_LENGTH = 128
# Rows per INSERT statement: 500 × 18 parameters stays far below SQLite's 32,766 limit.
INSERT_CHUNK_ROWS = 500

# Lower-case substrings of user agents that only crawlers, link previewers and scripted
# clients send. Deliberately short and specific: a real WeChat or browser UA never has them.
# Flagged visits are stored (reports and fraud review see them) but never bind a customer.
BOT_USER_AGENT_MARKERS = (
    "bot/",
    "bot;",
    "googlebot",
    "bingbot",
    "baiduspider",
    "bytespider",
    "yisouspider",
    "sogou web spider",
    "360spider",
    "petalbot",
    "yandexbot",
    "duckduckbot",
    "applebot",
    "ahrefsbot",
    "semrushbot",
    "mj12bot",
    "facebookexternalhit",
    "twitterbot",
    "slackbot",
    "crawler",
    "spider",
    "headlesschrome",
    "phantomjs",
    "python-requests",
    "python-httpx",
    "aiohttp",
    "curl/",
    "wget/",
    "go-http-client",
    "scrapy",
)


def is_bot_user_agent(user_agent: str | None) -> bool:
    """True for a missing user agent or one carrying a known bot marker."""
    # Every WeChat client and browser sends a user agent.
    if not user_agent or not user_agent.strip():
        return True
    lowered = user_agent.lower()
    # A plain loop of `in` tests beats one alternation regex here by a factor of three.
    for marker in BOT_USER_AGENT_MARKERS:  # noqa: SIM110
        if marker in lowered:
            return True
    return False


@lru_cache(maxsize=4096)
def _user_agent_facts(user_agent: str | None, salt: str) -> tuple[str | None, bool]:
    """(hash, bot flag) of a user agent: a few thousand distinct ones make most traffic."""
    return hash_identifier(user_agent, salt=salt), is_bot_user_agent(user_agent)


def _utm(name: str, given: str | None, default: str | None) -> str | None:
    if given is None:
        return default
    value = given.strip()
    if len(value) > UTM_MAX_LENGTH:
        raise ValidationFailed(
            f"{name} is longer than {UTM_MAX_LENGTH} characters",
            code="invalid_utm",
            fields={name: f"at most {UTM_MAX_LENGTH} characters"},
        )
    return value or default


def _visitor_identity(
    *, visitor_id: str | None, customer_user_id: int | None, ip: str | None, ua: str | None
) -> str | None:
    """Who the visitor is for unique counts: the client's id, else the user, else IP + UA."""
    if visitor_id:
        return device_key(visitor_id)
    if customer_user_id is not None:
        return f"u:{customer_user_id}"
    if ip:
        return f"a:{ip}|{ua or ''}"
    return None


async def record_visit(
    *,
    buffer: VisitBuffer,
    targets: TargetCache,
    settings: Settings,
    short_code: str | None,
    program_id: int | None,
    code: str | None,
    source: VisitSource,
    reached_by: TouchSource = TouchSource.LINK,
    visitor_id: str | None = None,
    utm_source: str | None = None,
    utm_medium: str | None = None,
    utm_campaign: str | None = None,
    ip: str | None = None,
    user_agent: str | None = None,
    customer_user_id: int | None = None,
    customer_external_id: str | None = None,
    target: VisitTarget | None = None,
    at: datetime | None = None,
) -> None:
    """Accept a visit for bulk writing; 404 or 503 (nothing recorded) unless it returns."""
    if source not in VISIT_SOURCES:
        raise ValidationFailed("unknown visit source", code="invalid_source")
    if visitor_id is not None and len(visitor_id) > MAX_VISITOR_ID_LENGTH:
        raise ValidationFailed(
            "visitor_id is too long",
            code="invalid_visitor_id",
            fields={"visitor_id": f"at most {MAX_VISITOR_ID_LENGTH} characters"},
        )
    if customer_external_id is not None:
        # Refuse a malformed store id now, not when the buffer writes it.
        customer_keys(customer_user_id=customer_user_id, customer_external_id=customer_external_id)
    if target is None and short_code is not None:
        target = await targets.link(short_code=short_code)
    elif target is None and program_id is not None and code is not None:
        target = await targets.code(program_id=program_id, code=code)
    elif target is None:
        raise ValidationFailed(
            "give a short_code, or a program_id with a code",
            code="visit_target_required",
            fields={"short_code": "required without program_id and code"},
        )
    salt = settings.visitor_hash_salt
    ua_hash, is_bot = _user_agent_facts(user_agent, salt)
    visitor = _visitor_identity(
        visitor_id=visitor_id, customer_user_id=customer_user_id, ip=ip, ua=user_agent
    )
    buffer.offer(
        PendingVisit(
            program_id=target.program_id,
            promoter_id=target.promoter_id,
            channel_id=target.channel_id,
            code_id=target.code_id,
            site_id=target.site_id,
            share_link_id=target.share_link_id,
            customer_user_id=customer_user_id,
            customer_external_id=customer_external_id,
            utm_source=_utm("utm_source", utm_source, target.utm_source),
            utm_medium=_utm("utm_medium", utm_medium, target.utm_medium),
            utm_campaign=_utm("utm_campaign", utm_campaign, target.utm_campaign),
            visitor_hash=hash_identifier(visitor, salt=salt),
            ip_hash=hash_identifier(ip, salt=salt),
            ua_hash=ua_hash,
            is_bot=is_bot,
            source=source,
            reached_by=reached_by.value,
            at=at if at is not None else clock.now(),
        )
    )


_VISIT_COLUMNS = PendingVisit._fields


def _identified(row: PendingVisit) -> bool:
    return row.customer_user_id is not None or row.customer_external_id is not None


def _multi_row_insert(count: int, conn: BaseDBAsyncClient) -> str:
    quote = "`" if is_mysql(conn) else '"'
    columns = ", ".join(f"{quote}{name}{quote}" for name in _VISIT_COLUMNS)
    row = "(" + ", ".join([param_marker(conn)] * len(_VISIT_COLUMNS)) + ")"
    table = f"{quote}{Visit._meta.db_table}{quote}"
    return f"INSERT INTO {table} ({columns}) VALUES " + ", ".join([row] * count)


async def _mark_report_buckets(conn: BaseDBAsyncClient, rows: Sequence[PendingVisit]) -> None:
    by_program: dict[int, list[datetime]] = {}
    for row in rows:
        by_program.setdefault(row.program_id, []).append(row.at)
    for program_id, instants in sorted(by_program.items()):
        await mark_instants(conn=conn, program_id=program_id, instants=instants)


async def write_visits(rows: Sequence[PendingVisit]) -> None:
    """Write a batch of visits in one transaction and bind the customers they identify."""
    # Anonymous visits go in hand-written multi-row INSERTs (a third cheaper than a prepared
    # statement per row on SQLite; a model per row would cost more CPU than the request). The
    # identified ones go one by one (the binding records the visit id, which a multi-row INSERT
    # does not return on MySQL), by customer then time: first/last touch see touches as they
    # happened, and concurrent flushes lock customers in one order instead of deadlocking.
    anonymous = [row for row in rows if not _identified(row)]
    identified = sorted(
        (row for row in rows if _identified(row)),
        key=lambda row: (
            row.program_id,
            customer_keys(
                customer_user_id=row.customer_user_id,
                customer_external_id=row.customer_external_id,
            )[0],
            row.at,
        ),
    )
    async with in_transaction() as conn:
        await _mark_report_buckets(conn, rows)
        for start in range(0, len(anonymous), INSERT_CHUNK_ROWS):
            chunk = anonymous[start : start + INSERT_CHUNK_ROWS]
            params = [value for row in chunk for value in row]
            await conn.execute_query(_multi_row_insert(len(chunk), conn), params)
        for row in identified:
            visit = await Visit.create(using_db=conn, **row._asdict())
            if row.is_bot:
                continue
            try:
                await bind_from_touch(
                    program_id=row.program_id,
                    customer_user_id=row.customer_user_id,
                    customer_external_id=row.customer_external_id,
                    promoter_id=row.promoter_id,
                    channel_id=row.channel_id,
                    code_id=row.code_id,
                    visit_id=visit.id,
                    share_link_id=row.share_link_id,
                    reached_by=TouchSource(row.reached_by),
                    source="visit",
                    at=row.at,
                    conn=conn,
                )
            except FenxiaoError:
                # A refused binding must not hold the batch back (it would be retried
                # forever); database failures are not FenxiaoErrors and do retry the batch.
                log.exception("visit %s recorded but its customer was not bound", visit.id)


def new_visit_buffer() -> VisitBuffer:
    """A buffer that screens visits for floods and writes them through `write_visits`."""
    return VisitBuffer(writer=write_visits, screen=VisitScreen())
