"""Sites of a program (domains / brands / markets) and promoters' authorizations for them."""

from __future__ import annotations

from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from server.auth import Principal
from server.domain.errors import Conflict, NotFound, ValidationFailed
from server.domain.pagination import check_page_limit, next_cursor
from server.domain.programs.settings import ProgramStatus
from server.domain.programs.sites import normalize_hostname, site_label_errors
from server.domain.promoters.status import LIVE_STATUSES
from server.models import Program, Promoter, PromoterSite, Site
from server.services.access.audit import record_action


def _check_labels(*, name: str | None, market: str | None) -> None:
    errors = site_label_errors(name=name, market=market)
    if errors:
        raise ValidationFailed("invalid site", code="invalid_site", fields=errors)


async def insert_site(
    *,
    program: Program,
    domain: str,
    name: str,
    market: str,
    actor: Principal | None,
    request_id: str | None,
    conn: BaseDBAsyncClient,
) -> Site:
    """Add a site inside the caller's transaction (409 site_exists for a taken domain)."""
    hostname = normalize_hostname(domain)
    _check_labels(name=name, market=market)
    if await Site.exists(program_id=program.id, domain=hostname, using_db=conn):
        raise Conflict("the program already has this site", code="site_exists")
    try:
        site = await Site.create(
            program_id=program.id, domain=hostname, name=name, market=market, using_db=conn
        )
    except IntegrityError:
        # Another request added the same domain between the check and the insert.
        raise Conflict("the program already has this site", code="site_exists") from None
    await record_action(
        actor=actor,
        action="site.create",
        target_kind="site",
        target_id=site.id,
        program_id=program.id,
        details={"after": _site_fields(site)},
        request_id=request_id,
        using_db=conn,
    )
    return site


async def create_site(
    *,
    program_id: int,
    domain: str,
    name: str = "",
    market: str = "",
    actor: Principal,
    request_id: str | None = None,
) -> Site:
    """Add a site to an active program (audited)."""
    async with in_transaction() as conn:
        program = await Program.filter(id=program_id).using_db(conn).first()
        if program is None:
            raise NotFound("no such program", code="program_not_found")
        if program.status != ProgramStatus.ACTIVE:
            raise Conflict("an archived program cannot be changed", code="program_archived")
        site = await insert_site(
            program=program,
            domain=domain,
            name=name,
            market=market,
            actor=actor,
            request_id=request_id,
            conn=conn,
        )
    return site


async def get_site(*, program_id: int, site_id: int) -> Site:
    """One site of a program."""
    site = await Site.filter(id=site_id, program_id=program_id).first()
    if site is None:
        raise NotFound("no such site", code="site_not_found")
    return site


async def update_site(
    *,
    program_id: int,
    site_id: int,
    name: str | None = None,
    market: str | None = None,
    is_active: bool | None = None,
    actor: Principal,
    request_id: str | None = None,
) -> Site:
    """Rename, re-market, deactivate or reactivate a site (audited when anything changed)."""
    _check_labels(name=name, market=market)
    async with in_transaction() as conn:
        site = (
            await Site.filter(id=site_id, program_id=program_id)
            .using_db(conn)
            .select_for_update()
            .first()
        )
        if site is None:
            raise NotFound("no such site in this program", code="site_not_found")
        before = _site_fields(site)
        for key, value in (("name", name), ("market", market), ("is_active", is_active)):
            if value is not None:
                setattr(site, key, value)
        after = _site_fields(site)
        changes = {
            key: {"before": before[key], "after": after[key]}
            for key in after
            if before[key] != after[key]
        }
        if changes:
            await site.save(using_db=conn)
            await record_action(
                actor=actor,
                action="site.update",
                target_kind="site",
                target_id=site.id,
                program_id=program_id,
                details={"changes": changes},
                request_id=request_id,
                using_db=conn,
            )
    return site


async def list_sites(
    *, program_id: int, is_active: bool | None = None, cursor: int | None = None, limit: int = 50
) -> list[Site]:
    """A program's sites in id order; `cursor` is the last id of the previous page."""
    check_page_limit(limit)
    if not await Program.exists(id=program_id):
        raise NotFound("no such program", code="program_not_found")
    query = Site.filter(program_id=program_id)
    if is_active is not None:
        query = query.filter(is_active=is_active)
    if cursor is not None:
        query = query.filter(id__gt=cursor)
    return await query.order_by("id").limit(limit)


async def grant_site(
    *, promoter_id: int, site_id: int, actor: Principal, request_id: str | None = None
) -> PromoterSite:
    """Authorize a live promoter for an active site of their own program (audited)."""
    async with in_transaction() as conn:
        promoter = await Promoter.filter(id=promoter_id).using_db(conn).first()
        if promoter is None:
            raise NotFound("no such promoter", code="promoter_not_found")
        site = await Site.filter(id=site_id).using_db(conn).first()
        if site is None:
            raise NotFound("no such site", code="site_not_found")
        if site.program_id != promoter.program_id:
            raise ValidationFailed(
                "the site belongs to another program",
                code="site_in_other_program",
                fields={"site_id": "belongs to another program than the promoter's"},
            )
        if not site.is_active:
            raise Conflict("the site is inactive", code="site_inactive")
        if promoter.status not in LIVE_STATUSES:
            raise Conflict(f"the promoter's profile is {promoter.status}", code="promoter_not_live")
        if await PromoterSite.exists(promoter_id=promoter.id, site_id=site.id, using_db=conn):
            raise Conflict("the promoter already has this site", code="site_already_granted")
        try:
            grant = await PromoterSite.create(
                promoter_id=promoter.id, site_id=site.id, using_db=conn
            )
        except IntegrityError:
            raise Conflict(
                "the promoter already has this site", code="site_already_granted"
            ) from None
        await record_action(
            actor=actor,
            action="site.grant",
            target_kind="promoter",
            target_id=promoter.id,
            program_id=promoter.program_id,
            details={"site_id": site.id, "domain": site.domain},
            request_id=request_id,
            using_db=conn,
        )
    return grant


async def revoke_site(
    *, promoter_id: int, site_id: int, actor: Principal, request_id: str | None = None
) -> None:
    """Withdraw a promoter's authorization for a site (audited; 404 if there is none)."""
    async with in_transaction() as conn:
        grant = (
            await PromoterSite.filter(promoter_id=promoter_id, site_id=site_id)
            .using_db(conn)
            .select_related("promoter", "site")
            .first()
        )
        if grant is None:
            raise NotFound("the promoter has no grant for this site", code="site_grant_not_found")
        await grant.delete(using_db=conn)
        await record_action(
            actor=actor,
            action="site.revoke",
            target_kind="promoter",
            target_id=promoter_id,
            program_id=grant.promoter.program_id,
            details={"site_id": site_id, "domain": grant.site.domain},
            request_id=request_id,
            using_db=conn,
        )


async def granted_site_ids(*, promoter_id: int) -> set[int]:
    """The sites a promoter is authorized for."""
    rows = await PromoterSite.filter(promoter_id=promoter_id).values_list("site_id", flat=True)
    return {int(site_id) for site_id in rows}


def _site_fields(site: Site) -> dict[str, Any]:
    return {
        "domain": site.domain,
        "name": site.name,
        "market": site.market,
        "is_active": site.is_active,
    }


def serialize_site(site: Site) -> dict[str, Any]:
    return {
        "id": site.id,
        "program_id": site.program_id,
        **_site_fields(site),
        "created_at": site.created_at,
    }


def serialize_sites_page(sites: list[Site], *, limit: int) -> dict[str, Any]:
    return {
        "items": [serialize_site(site) for site in sites],
        "next_cursor": next_cursor([row.id for row in sites], limit),
    }


def serialize_site_grant(grant: PromoterSite) -> dict[str, Any]:
    return {
        "promoter_id": grant.promoter_id,
        "site_id": grant.site_id,
        "granted_at": grant.granted_at,
    }
