"""The inbox of order events a store asked us to accept now (`Prefer: respond-async`) and
apply later: its row life cycle and how a drainer splits a batch into lanes.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar

from server.domain.state_machine import StateMachine

# Time a drainer may take to apply a claimed batch before another may claim it again.
CLAIM_LEASE = timedelta(seconds=60)
# Rows one claim takes: enough to keep a drainer busy, few enough to share among workers.
CLAIM_BATCH = 32
RESPOND_ASYNC = "respond-async"
# Events of a batch a drainer applies at once: applying mostly waits on the database.
DRAIN_LANES = 4
# Batches a drainer claims and applies at once. A set-based batch of 32 spends about as long
# waiting on its ~18 round trips as on its own CPU (~1 ms an event): with one batch at a
# time the worker's core idles while MariaDB works and the other way round.
DRAIN_PIPELINES = 2

T = TypeVar("T")


class InboxStatus(StrEnum):
    QUEUED = "queued"
    PROCESSING = "processing"
    DONE = "done"


INBOX_LIFECYCLE: StateMachine[InboxStatus] = StateMachine(
    name="event_inbox",
    transitions={
        "claim": (frozenset({InboxStatus.QUEUED}), InboxStatus.PROCESSING),
        "finish": (frozenset({InboxStatus.PROCESSING}), InboxStatus.DONE),
        "expire": (frozenset({InboxStatus.PROCESSING}), InboxStatus.QUEUED),
    },
)


def inbox_transition(current: str, action: str) -> InboxStatus:
    """The status `action` leads to; IllegalTransition (event_inbox_illegal_transition)."""
    return INBOX_LIFECYCLE.target(InboxStatus(current), action)


def wants_async(prefer_header: str | None) -> bool:
    """True when the request's `Prefer` header (RFC 7240) holds `respond-async`."""
    if not prefer_header:
        return False
    return any(
        part.split(";", 1)[0].strip().lower() == RESPOND_ASYNC for part in prefer_header.split(",")
    )


def lease_expired(claimed_until: datetime | None, now: datetime) -> bool:
    """A processing row whose lease ran out may be claimed again."""
    return claimed_until is not None and claimed_until <= now


def accepted_body(*, event_id: str, event_type: str, external_id: str) -> dict[str, Any]:
    """What the store is answered when its event is in the inbox, not applied yet."""
    return {
        "event_id": event_id,
        "type": event_type,
        "status": InboxStatus.QUEUED.value,
        "order_external_id": external_id,
        "message": "accepted: the event is applied shortly; read its status at the status URL",
    }


def status_body(
    *,
    event_id: str,
    event_type: str,
    external_id: str,
    inbox_status: str | None,
    outcome: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """An event's status for the store: its stored outcome once applied, else its inbox state."""
    if outcome is not None:
        return {
            "event_id": event_id,
            "type": event_type,
            "order_external_id": external_id,
            "state": "processed",
            "status_code": int(outcome["status_code"]),
            "outcome": dict(outcome["body"]),
        }
    return {
        "event_id": event_id,
        "type": event_type,
        "order_external_id": external_id,
        "state": inbox_status or InboxStatus.QUEUED.value,
        "status_code": None,
        "outcome": None,
    }


def split_into_lanes(
    items: Sequence[T], *, key: Callable[[T], Hashable], lanes: int
) -> list[list[T]]:
    """`items` in at most `lanes` non-empty lists, all items of one key in one list in order."""
    if lanes < 1:
        raise ValueError("lanes must be at least 1")
    split: list[list[T]] = [[] for _ in range(lanes)]
    lane_of: dict[Hashable, int] = {}
    for item in items:
        lane = lane_of.setdefault(key(item), len(lane_of) % lanes)
        split[lane].append(item)
    return [lane for lane in split if lane]
