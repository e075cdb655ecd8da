"""The inbox of order events a store asked us to accept now and apply later.

A store that sends `Prefer: respond-async` gets 202 as soon as the signed, valid event is
durably stored in the inbox; a drainer applies it afterwards exactly as a synchronous
delivery would (server/services/orders/events.py), and the store reads the outcome from the
event's status. The inbox absorbs bursts (a flash sale) at the cost of writing each event once,
and what it accepted is never lost: it is on disk before the 202.

Life of an inbox row (a table of allowed transitions):

    queued --claim--> processing --finish--> done
                       processing --expire--> queued   (the lease ran out: its drainer died)

Applying an event twice is harmless — the order_events row (unique by program and event id)
answers the second time with the first outcome — so an expired lease is simply claimed
again.

A drainer applies its claimed batch in a few lanes at once (`split_into_lanes`): applying an
event mostly waits on the database, one statement after another, so one lane alone leaves
the worker idle. The events of one order stay in one lane, in the order received.

One event id names one body: a second delivery with the same id and body is answered with
the first one's status, a different body is 409 `event_id_conflict` — checked against the
inbox at once; a clash with an event delivered synchronously before is found when it is
applied, and recorded as that event's outcome.
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
# Events of a batch a drainer applies at once (module doc).
DRAIN_LANES = 4

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
    """An event's status for the store: its stored outcome once applied (with the HTTP
    status a synchronous delivery would have got), else where it is in the inbox."""
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
    """`items` in at most `lanes` non-empty lists: all items of one key in one list, in their
    order; keys dealt to the lists in turn, in the order they first appear."""
    if lanes < 1:
        raise ValueError("lanes must be at least 1")
    split: list[list[T]] = [[] for _ in range(lanes)]
    lane_of: dict[Hashable, int] = {}
    for item in items:
        lane = lane_of.setdefault(key(item), len(lane_of) % lanes)
        split[lane].append(item)
    return [lane for lane in split if lane]
