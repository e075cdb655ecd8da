"""Server-side clicks posted by the store (S2S), recorded as visits with source `s2s` through
the same buffer and bind rules as mini-program visits (docs/design/sharing.md).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from server import clock
from server.config import Settings
from server.domain.errors import FenxiaoError, NotFound, ValidationFailed
from server.domain.promoters.status import PromoterStatus
from server.domain.sharing.attribution import TouchSource
from server.domain.sharing.clicks import check_same_click, click_fingerprint, click_time
from server.domain.sharing.codes import normalize_code
from server.models import Channel, Program, Promoter, S2SClick, Site, User
from server.services.sharing.visit_buffer import VisitBuffer
from server.services.sharing.visit_targets import TargetCache, VisitTarget
from server.services.sharing.visits import record_visit

ACCEPTED = 202
DUPLICATE = 200


@dataclasses.dataclass(frozen=True, kw_only=True)
class ClickOutcome:
    """202 when the click was buffered as a visit, 200 when it repeats a recorded click id."""

    status: int
    click_id: str | None

    @property
    def duplicate(self) -> bool:
        return self.status == DUPLICATE

    def body(self) -> dict[str, Any]:
        return {"accepted": True, "duplicate": self.duplicate, "click_id": self.click_id}


@dataclasses.dataclass(frozen=True, kw_only=True)
class ClickContext:
    """What every click of one request shares (the worker's buffer and caches)."""

    program_id: int
    buffer: VisitBuffer
    targets: TargetCache
    settings: Settings


async def _invite_target(*, program_id: int, invite_code: str) -> VisitTarget:
    normalized = normalize_code(invite_code)
    promoter = (
        await Promoter.filter(
            program_id=program_id,
            invite_code=normalized,
            status=PromoterStatus.APPROVED.value,
        )
        .only("id")
        .first()
    )
    if promoter is None or not await Program.exists(id=program_id, status="active"):
        raise NotFound("this invite code credits no one", code="invite_code_not_found")
    return VisitTarget(
        program_id=program_id,
        promoter_id=promoter.id,
        channel_id=None,
        code_id=None,
        site_id=None,
        share_link_id=None,
        utm_source=None,
        utm_medium=None,
        utm_campaign=None,
    )


async def _instrument(click: Mapping[str, Any], context: ClickContext) -> VisitTarget:
    """The instrument the click names, which must belong to the calling program."""
    named = [key for key in ("short_code", "code", "invite_code") if click.get(key)]
    if len(named) != 1:
        raise ValidationFailed(
            "name exactly one of short_code, code, invite_code",
            code="click_target_required",
            fields={key: "exactly one of short_code, code, invite_code" for key in named}
            or {"short_code": "required without code or invite_code"},
        )
    if named[0] == "short_code":
        target = await context.targets.link(short_code=click["short_code"])
        if target.program_id != context.program_id:
            # Another program's link: as unknown to this key as a made-up one.
            raise NotFound("no such link", code="link_not_found")
        return target
    if named[0] == "code":
        return await context.targets.code(program_id=context.program_id, code=click["code"])
    return await _invite_target(program_id=context.program_id, invite_code=click["invite_code"])


async def _with_channel_and_site(target: VisitTarget, click: Mapping[str, Any]) -> VisitTarget:
    channel_name, site_id = click.get("channel"), click.get("site_id")
    channel_id = target.channel_id
    if channel_name is not None:
        channel = await Channel.get_or_none(
            promoter_id=target.promoter_id, name=channel_name, is_active=True
        )
        if channel is None:
            raise ValidationFailed(
                "the promoter has no such channel",
                code="channel_not_found",
                fields={"channel": "not an active channel of the promoter credited"},
            )
        if target.channel_id is not None and target.channel_id != channel.id:
            raise ValidationFailed(
                "the instrument belongs to another channel",
                code="channel_mismatch",
                fields={"channel": "differs from the channel of the link or code"},
            )
        channel_id = channel.id
    if site_id is not None:
        if not await Site.exists(id=site_id, program_id=target.program_id, is_active=True):
            raise ValidationFailed(
                "no such site in this program",
                code="site_not_found",
                fields={"site_id": "not an active site of the program"},
            )
        if target.site_id is not None and target.site_id != site_id:
            raise ValidationFailed(
                "the link belongs to another site",
                code="site_mismatch",
                fields={"site_id": "differs from the site of the link"},
            )
    return dataclasses.replace(
        target,
        channel_id=channel_id,
        site_id=site_id if site_id is not None else target.site_id,
    )


async def _customer_user_id(customer: Mapping[str, Any], *, appid: str) -> int | None:
    """The mini-program user the click names (openid first, then unionid), if known."""
    if openid := customer.get("openid"):
        user = await User.filter(appid=appid, openid=openid).only("id").first()
        if user is not None:
            return int(user.id)
    if unionid := customer.get("unionid"):
        user = await User.filter(unionid=unionid).order_by("id").only("id").first()
        if user is not None:
            return int(user.id)
    return None


async def _claim(*, program_id: int, click_id: str, fingerprint: str, at: datetime) -> bool:
    """True when the click id is new and now claimed; False when it repeats the same click."""
    try:
        async with in_transaction() as conn:
            await S2SClick.create(
                program_id=program_id,
                click_id=click_id,
                fingerprint=fingerprint,
                occurred_at=at,
                using_db=conn,
            )
    except IntegrityError:
        stored = await S2SClick.get(program_id=program_id, click_id=click_id)
        check_same_click(
            click_id=click_id, stored_fingerprint=stored.fingerprint, fingerprint=fingerprint
        )
        return False
    return True


async def _release(*, program_id: int, click_id: str, fingerprint: str) -> None:
    await S2SClick.filter(
        program_id=program_id, click_id=click_id, fingerprint=fingerprint
    ).delete()


async def record_click(*, click: Mapping[str, Any], context: ClickContext) -> ClickOutcome:
    """Record one click as an `s2s` visit; a repeated click id records nothing."""
    occurred_at = click_time(click.get("occurred_at"), now=clock.now()).astimezone(UTC)
    target = await _with_channel_and_site(await _instrument(click, context), click)
    customer: Mapping[str, Any] = click.get("customer") or {}
    user_id = await _customer_user_id(customer, appid=context.settings.wechat_appid)
    external_id = customer.get("external_id")
    click_id = click.get("click_id")
    fingerprint = click_fingerprint(click)
    if click_id is not None and not await _claim(
        program_id=context.program_id, click_id=click_id, fingerprint=fingerprint, at=occurred_at
    ):
        return ClickOutcome(status=DUPLICATE, click_id=click_id)
    try:
        await record_visit(
            buffer=context.buffer,
            targets=context.targets,
            settings=context.settings,
            short_code=None,
            program_id=context.program_id,
            code=None,
            source="s2s",
            reached_by=TouchSource.LINK if click.get("short_code") else TouchSource.CODE,
            # A known user counts as "u:<id>", like their mini-program visits.
            visitor_id=None if user_id is not None else external_id,
            utm_source=click.get("utm_source"),
            utm_medium=click.get("utm_medium"),
            utm_campaign=click.get("utm_campaign"),
            ip=click.get("ip"),
            user_agent=click.get("user_agent"),
            customer_user_id=user_id,
            customer_external_id=external_id,
            target=target,
            at=occurred_at,
        )
    except FenxiaoError:
        # The click id was claimed in its own transaction; free it so the store's retry counts.
        if click_id is not None:
            await _release(
                program_id=context.program_id, click_id=click_id, fingerprint=fingerprint
            )
        raise
    return ClickOutcome(status=ACCEPTED, click_id=click_id)


async def record_clicks(
    *, clicks: Sequence[Mapping[str, Any]], context: ClickContext
) -> dict[str, Any]:
    """Record each click on its own; the per-click results in order, with their status."""
    results: list[dict[str, Any]] = []
    counts = {"accepted": 0, "duplicates": 0, "refused": 0}
    for index, click in enumerate(clicks):
        try:
            outcome = await record_click(click=click, context=context)
        except FenxiaoError as refused:
            counts["refused"] += 1
            results.append(
                {
                    "index": index,
                    "click_id": click.get("click_id"),
                    "status": refused.status_code,
                    **refused.to_dict(),
                }
            )
            continue
        counts["duplicates" if outcome.duplicate else "accepted"] += 1
        results.append({"index": index, "status": outcome.status, **outcome.body()})
    return {**counts, "results": results}
