"""Server-side clicks: what the store may report, and how old or new a click may be.

A click is the store's record of a customer following a promoter's instrument (a share
link's short code, a referral or voucher code, or the promoter's invite code) on the
store's own pages. It becomes a visit with source `s2s` and binds the customer it names
under the program's bind mode, exactly like a visit through the mini-program.

Time bounds for `occurred_at` (compared with the server's clock when the click arrives):
- at most `MAX_FUTURE_SKEW` ahead (clocks drift; a click from the future is a bug);
- at most `MAX_CLICK_AGE` old: a late click still binds (a touch older than the customer's
  current binding changes nothing, see server/domain/sharing/attribution.py), but a store
  replaying months of history would rewrite attribution long after the orders it decided.

Idempotency: a click carrying a `click_id` is recorded once per program; the same click id
again with the same content answers as a duplicate and records nothing, the same id with
other content is a conflict (409 click_id_reused). Clicks without a click id are recorded
each time they are sent.
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
    """The click's time, checked against the bounds above (422 invalid_timestamp or
    occurred_at_out_of_range)."""
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
