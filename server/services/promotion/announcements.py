"""Program announcements: staff draft, publish and archive them; promoters list and read
them (with an unread count); publishing may queue a subscribe message, through the
notification outbox, to each promoter who consented to one."""

from __future__ import annotations

import logging
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from server import clock
from server.auth import Principal
from server.domain.errors import Conflict, NotFound, ValidationFailed
from server.domain.pagination import check_page_limit, page_body
from server.domain.promoters.status import PromoterStatus
from server.domain.promotion.announcements import (
    ANNOUNCEMENT_LIFECYCLE,
    EDITABLE,
    MAX_BODY_LENGTH,
    MAX_TITLE_LENGTH,
    NOTIFY_TITLE_LENGTH,
    AnnouncementStatus,
    notification_reference,
)
from server.models import (
    Announcement,
    AnnouncementRead,
    AnnouncementSubscription,
    Program,
    Promoter,
)
from server.services.access.audit import record_action
from server.services.operations.notifications import TEMPLATE_ANNOUNCEMENT, enqueue_notification
from server.services.promoters.queries import get_active_promoter
from server.services.promotion.records import audit_changes, change_status, locked

log = logging.getLogger("fenxiao.announcements")
PUBLISHED = AnnouncementStatus.PUBLISHED.value


def announcement_not_found() -> NotFound:
    return NotFound("no such announcement", code="announcement_not_found")


def serialize_announcement(announcement: Announcement) -> dict[str, Any]:
    return {
        "id": announcement.id,
        "program_id": announcement.program_id,  # type: ignore[attr-defined]
        "title": announcement.title,
        "body": announcement.body,
        "status": announcement.status,
        "notify": announcement.notify,
        "actions": ANNOUNCEMENT_LIFECYCLE.allowed_actions(AnnouncementStatus(announcement.status)),
        "published_at": announcement.published_at,
        "archived_at": announcement.archived_at,
        "created_at": announcement.created_at,
        "updated_at": announcement.updated_at,
    }


def _checked(title: str, body: str) -> tuple[str, str]:
    errors: dict[str, str] = {}
    title = title.strip()
    if not 1 <= len(title) <= MAX_TITLE_LENGTH:
        errors["title"] = f"1 to {MAX_TITLE_LENGTH} characters"
    if not len(body.strip()) >= 1 or len(body) > MAX_BODY_LENGTH:
        errors["body"] = f"1 to {MAX_BODY_LENGTH} characters"
    if errors:
        raise ValidationFailed(
            "the announcement is not valid", code="invalid_announcement", fields=errors
        )
    return title, body


async def create_announcement(
    *,
    program_id: int,
    title: str,
    body: str,
    notify: bool,
    actor: Principal,
    request_id: str | None = None,
) -> Announcement:
    """A draft announcement of the program."""
    if not await Program.exists(id=program_id):
        raise NotFound("no such program", code="program_not_found")
    title, body = _checked(title, body)
    async with in_transaction() as conn:
        announcement = await Announcement.create(
            program_id=program_id,
            title=title,
            body=body,
            notify=notify,
            status=AnnouncementStatus.DRAFT.value,
            created_by=actor.id,
            using_db=conn,
        )
        await record_action(
            actor=actor,
            action="announcement.create",
            target_kind="announcement",
            target_id=announcement.id,
            program_id=program_id,
            details={"title": title},
            request_id=request_id,
            using_db=conn,
        )
    return announcement


async def update_announcement(
    *,
    announcement_id: int,
    changes: dict[str, Any],
    actor: Principal,
    request_id: str | None = None,
) -> Announcement:
    """Change a draft's title, body or notify flag (a published text never changes)."""
    async with in_transaction() as conn:
        announcement = await locked(Announcement, announcement_id, conn, announcement_not_found)
        if AnnouncementStatus(announcement.status) not in EDITABLE:
            raise Conflict(
                "only a draft announcement can be edited",
                code="announcement_not_editable",
                fields={"status": announcement.status},
            )
        title, body = _checked(
            changes.get("title") or announcement.title, changes.get("body") or announcement.body
        )
        before = serialize_announcement(announcement)
        announcement.title, announcement.body = title, body
        if changes.get("notify") is not None:
            announcement.notify = bool(changes["notify"])
        await announcement.save(using_db=conn)
        await audit_changes(
            conn=conn,
            actor=actor,
            action="announcement.update",
            record=announcement,
            before=before,
            after=serialize_announcement(announcement),
            keys=("title", "body", "notify"),
            request_id=request_id,
        )
    return announcement


def _stamp(announcement: Announcement, target: AnnouncementStatus) -> None:
    if target == AnnouncementStatus.PUBLISHED:
        announcement.published_at = clock.now()
    else:
        announcement.archived_at = clock.now()


async def change_announcement_status(
    *, announcement_id: int, action: str, actor: Principal, request_id: str | None = None
) -> Announcement:
    """Publish or archive an announcement; publishing one marked `notify` queues messages."""
    announcement = await change_status(
        model=Announcement,
        record_id=announcement_id,
        lifecycle=ANNOUNCEMENT_LIFECYCLE,
        states=AnnouncementStatus,
        action=action,
        actor=actor,
        request_id=request_id,
        missing=announcement_not_found,
        stamp=_stamp,
    )
    if announcement.status == PUBLISHED and announcement.notify:
        await _notify_subscribers(announcement)
    return announcement


async def _notify_subscribers(announcement: Announcement) -> None:
    """Queue one message per unused consent of the program's approved promoters. The outbox
    job sends them later; a failure here is logged and never undoes the publication."""
    try:
        async with in_transaction() as conn:
            consents = (
                await AnnouncementSubscription.filter(
                    program_id=announcement.program_id,  # type: ignore[attr-defined]
                    used_at__isnull=True,
                )
                .using_db(conn)
                .select_for_update()
            )
            promoters = {
                p.id: p
                for p in await Promoter.filter(
                    id__in=[c.promoter_id for c in consents],
                    status=PromoterStatus.APPROVED.value,
                )
                .using_db(conn)
                .only("id", "user_id")
            }
            for consent in consents:
                promoter = promoters.get(consent.promoter_id)
                if promoter is None:
                    continue
                await enqueue_notification(
                    user_id=promoter.user_id,  # type: ignore[attr-defined]
                    program_id=announcement.program_id,  # type: ignore[attr-defined]
                    template=TEMPLATE_ANNOUNCEMENT,
                    data={"title": announcement.title[:NOTIFY_TITLE_LENGTH]},
                    reference=notification_reference(
                        announcement_id=announcement.id, promoter_id=promoter.id
                    ),
                    conn=conn,
                )
                consent.used_at = clock.now()
                consent.announcement_id = announcement.id
                await consent.save(using_db=conn, update_fields=["used_at", "announcement_id"])
    except Exception:  # the announcement is out; messages are a courtesy
        log.exception("announcement %s: subscribe messages not queued", announcement.id)


async def get_announcement(*, announcement_id: int) -> Announcement:
    """One announcement, for staff."""
    announcement = await Announcement.get_or_none(id=announcement_id)
    if announcement is None:
        raise announcement_not_found()
    return announcement


async def list_announcements(
    *, program_id: int, status: str | None = None, cursor: int | None = None, limit: int = 50
) -> dict[str, Any]:
    """A program's announcements, newest first, paged by id."""
    check_page_limit(limit)
    query = Announcement.filter(program_id=program_id)
    if status is not None:
        query = query.filter(status=status)
    if cursor is not None:
        query = query.filter(id__lt=cursor)
    rows = await query.order_by("-id").limit(limit)
    return page_body([serialize_announcement(a) for a in rows], limit)


async def unread_count(*, promoter_id: int, program_id: int) -> int:
    """Published announcements of the program the promoter has not read."""
    published = await Announcement.filter(program_id=program_id, status=PUBLISHED).count()
    read = await AnnouncementRead.filter(
        promoter_id=promoter_id, announcement__program_id=program_id, announcement__status=PUBLISHED
    ).count()
    return published - read


def _promoter_view(announcement: Announcement, read_ids: set[int]) -> dict[str, Any]:
    return {
        "id": announcement.id,
        "title": announcement.title,
        "body": announcement.body,
        "published_at": announcement.published_at,
        "read": announcement.id in read_ids,
    }


async def promoter_announcements(
    *, user_id: int, program_id: int, cursor: int | None = None, limit: int = 20
) -> dict[str, Any]:
    """The published announcements of the caller's program, newest first, each marked read
    or not, and how many are unread."""
    check_page_limit(limit)
    promoter = await get_active_promoter(user_id=user_id, program_id=program_id)
    query = Announcement.filter(program_id=program_id, status=PUBLISHED)
    if cursor is not None:
        query = query.filter(id__lt=cursor)
    rows = await query.order_by("-id").limit(limit)
    read_ids = set(
        await AnnouncementRead.filter(
            promoter_id=promoter.id, announcement_id__in=[a.id for a in rows]
        ).values_list("announcement_id", flat=True)
    )
    body = page_body([_promoter_view(a, read_ids) for a in rows], limit)
    body["unread"] = await unread_count(promoter_id=promoter.id, program_id=program_id)
    return body


async def read_announcement(
    *, user_id: int, program_id: int, announcement_id: int
) -> dict[str, Any]:
    """One published announcement of the caller's program, marked read from now on."""
    promoter = await get_active_promoter(user_id=user_id, program_id=program_id)
    announcement = await Announcement.get_or_none(
        id=announcement_id, program_id=program_id, status=PUBLISHED
    )
    if announcement is None:
        raise announcement_not_found()
    try:
        async with in_transaction() as conn:
            await AnnouncementRead.get_or_create(
                announcement_id=announcement.id,
                promoter_id=promoter.id,
                defaults={"read_at": clock.now()},
                using_db=conn,
            )
    except IntegrityError:
        pass  # read twice at once: the first read is the one kept
    return _promoter_view(announcement, {announcement.id})


async def subscribe_to_announcements(*, user_id: int, program_id: int) -> dict[str, Any]:
    """Record that the caller accepted one announcement message in the mini-program
    (wx.requestSubscribeMessage); asking again while one is unused changes nothing."""
    promoter = await get_active_promoter(user_id=user_id, program_id=program_id)
    async with in_transaction() as conn:
        existing = (
            await AnnouncementSubscription.filter(promoter_id=promoter.id, used_at__isnull=True)
            .using_db(conn)
            .first()
        )
        if existing is None:
            existing = await AnnouncementSubscription.create(
                program_id=program_id, promoter_id=promoter.id, using_db=conn
            )
    return {"subscribed": True, "since": existing.created_at}
