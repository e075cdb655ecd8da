"""Announcements: drafted, published and archived through a transition table; promoters of
the program list and read them with an unread count; publishing queues one subscribe
message per consent, through the outbox, and never fails because of it."""

from __future__ import annotations

import pytest

from server.domain.errors import Conflict, IllegalTransition, NotFound
from server.models import AnnouncementSubscription, Notification
from server.services.promotion import announcements as service
from tests.order_builders import ADMIN
from tests.service.promotion.builders import sharer
from tests.service.sharing.test_share_support import make_program

pytestmark = pytest.mark.usefixtures("db")


async def _published(program_id: int, title: str = "新品上架", *, notify: bool = False):
    draft = await service.create_announcement(
        program_id=program_id, title=title, body="本周新品", notify=notify, actor=ADMIN
    )
    return await service.change_announcement_status(
        announcement_id=draft.id, action="publish", actor=ADMIN
    )


async def test_promoters_read_published_announcements_and_the_unread_count_falls() -> None:
    program = await make_program()
    promoter, _ = await sharer(program)
    first = await _published(program.id, "one")
    second = await _published(program.id, "two")
    await service.create_announcement(
        program_id=program.id, title="draft", body="x", notify=False, actor=ADMIN
    )

    before = await service.promoter_announcements(user_id=promoter.user_id, program_id=program.id)
    await service.read_announcement(
        user_id=promoter.user_id, program_id=program.id, announcement_id=first.id
    )
    await service.read_announcement(
        user_id=promoter.user_id, program_id=program.id, announcement_id=first.id
    )
    after = await service.promoter_announcements(user_id=promoter.user_id, program_id=program.id)

    assert [a["id"] for a in before["items"]] == [second.id, first.id]
    assert before["unread"] == 2 and after["unread"] == 1
    assert [a["read"] for a in after["items"]] == [False, True]


async def test_an_archived_announcement_leaves_the_list_and_the_unread_count() -> None:
    program = await make_program()
    promoter, _ = await sharer(program)
    announcement = await _published(program.id)

    await service.change_announcement_status(
        announcement_id=announcement.id, action="archive", actor=ADMIN
    )
    listed = await service.promoter_announcements(user_id=promoter.user_id, program_id=program.id)

    assert listed["items"] == [] and listed["unread"] == 0
    with pytest.raises(IllegalTransition) as again:
        await service.change_announcement_status(
            announcement_id=announcement.id, action="publish", actor=ADMIN
        )
    assert again.value.code == "announcement_illegal_transition"


async def test_only_a_draft_is_edited() -> None:
    program = await make_program()
    announcement = await _published(program.id)

    with pytest.raises(Conflict) as refused:
        await service.update_announcement(
            announcement_id=announcement.id, changes={"title": "changed"}, actor=ADMIN
        )

    assert refused.value.code == "announcement_not_editable"


async def test_a_promoter_never_reads_another_programs_announcement() -> None:
    program, other = await make_program("A"), await make_program("B")
    announcement = await _published(program.id)
    outsider, _ = await sharer(other)

    with pytest.raises(NotFound) as refused:
        await service.read_announcement(
            user_id=outsider.user_id, program_id=other.id, announcement_id=announcement.id
        )
    listed = await service.promoter_announcements(user_id=outsider.user_id, program_id=other.id)

    assert refused.value.code == "announcement_not_found"
    assert listed["items"] == [] and listed["unread"] == 0


async def test_publishing_with_notify_queues_one_message_per_consent_and_uses_it_up() -> None:
    program = await make_program()
    subscriber, _ = await sharer(program, "订阅者")
    await sharer(program, "没订阅")
    await service.subscribe_to_announcements(user_id=subscriber.user_id, program_id=program.id)
    await service.subscribe_to_announcements(user_id=subscriber.user_id, program_id=program.id)

    first = await _published(
        program.id, "一二三四五六七八九十一二三四五六七八九十超长", notify=True
    )
    second = await _published(program.id, "second", notify=True)
    quiet = await _published(program.id, "quiet", notify=False)

    queued = await Notification.all()
    assert [(n.user_id, n.template, n.reference) for n in queued] == [
        (subscriber.user_id, "announcement", f"announcement:{first.id}:promoter:{subscriber.id}")
    ]
    assert queued[0].data == {"title": "一二三四五六七八九十一二三四五六七八九十"}
    consent = await AnnouncementSubscription.get(promoter_id=subscriber.id)
    assert consent.announcement_id == first.id and consent.used_at is not None
    assert second.status == quiet.status == "published"


async def test_publishing_succeeds_even_when_queueing_the_messages_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    program = await make_program()
    subscriber, _ = await sharer(program)
    await service.subscribe_to_announcements(user_id=subscriber.user_id, program_id=program.id)

    async def broken(**_: object) -> None:
        raise RuntimeError("outbox down")

    monkeypatch.setattr(service, "enqueue_notification", broken)
    announcement = await _published(program.id, notify=True)

    assert announcement.status == "published"
    assert await AnnouncementSubscription.filter(used_at__isnull=True).count() == 1
