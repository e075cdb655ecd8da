"""Server-side clicks: what the store may report, and how old or new a click may be
(docs/design/sharing.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from server.domain.errors import Conflict, ValidationFailed
from server.domain.orders.parsing import body_sha256, parse_timestamp

MAX_FUTURE_SKEW = timedelta(minutes=5)
MAX_CLICK_AGE = timedelta(days=30)
MAX_BATCH_CLICKS = 500
OUT_OF_RANGE = "occurred_at_out_of_range"


def click_time(raw: Any, *, now: datetime, field: str = "occurred_at") -> datetime:
    """The click's time within its bounds (422 invalid_timestamp or occurred_at_out_of_range)."""
    moment = parse_timestamp(raw, field=field)
    if moment > now + MAX_FUTURE_SKEW:
        raise ValidationFailed(
            "the click is in the future",
            code=OUT_OF_RANGE,
            fields={field: f"at most {int(MAX_FUTURE_SKEW.total_seconds())} s ahead of now"},
        )
    if moment < now - MAX_CLICK_AGE:
        raise ValidationFailed(
            "the click is too old to record",
            code=OUT_OF_RANGE,
            fields={field: f"at most {MAX_CLICK_AGE.days} days old"},
        )
    return moment


def click_fingerprint(click: Mapping[str, Any]) -> str:
    """What a repeated click id is compared by: the click's content, canonically hashed."""
    return body_sha256(click)


def check_same_click(*, click_id: str, stored_fingerprint: str, fingerprint: str) -> None:
    """A click id sent again must carry the same click (409 click_id_reused otherwise)."""
    if stored_fingerprint != fingerprint:
        raise Conflict(
            "this click_id was already used for another click",
            code="click_id_reused",
            fields={"click_id": click_id},
        )
