"""Program announcements: drafted, published to the program's promoters, then archived."""

from __future__ import annotations

from enum import StrEnum

from server.domain.state_machine import StateMachine

MAX_TITLE_LENGTH = 128
MAX_BODY_LENGTH = 5000
# A subscribe message value WeChat accepts (thing.DATA) is at most 20 characters.
NOTIFY_TITLE_LENGTH = 20


class AnnouncementStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    ARCHIVED = "archived"


_A = AnnouncementStatus

ANNOUNCEMENT_LIFECYCLE: StateMachine[AnnouncementStatus] = StateMachine(
    name="announcement",
    transitions={
        "publish": (frozenset({_A.DRAFT}), _A.PUBLISHED),
        "archive": (frozenset({_A.DRAFT, _A.PUBLISHED}), _A.ARCHIVED),
    },
)

# Only a draft is edited: promoters never see a published text change under them.
EDITABLE = frozenset({_A.DRAFT})


def notification_reference(*, announcement_id: int, promoter_id: int) -> str:
    """The outbox reference of one promoter's message about one announcement (sent once)."""
    return f"announcement:{announcement_id}:promoter:{promoter_id}"
