"""How deliveries are retried, when an endpoint is given up on, and how a message is signed
(Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature`)."""

from __future__ import annotations

import base64
from collections.abc import Iterable
from datetime import datetime, timedelta

from standardwebhooks.webhooks import Webhook

from server.domain.errors import ValidationFailed

SECRET_PREFIX = "whsec_"
MESSAGE_ID_PREFIX = "msg_"
SECRET_BYTES = 32

PENDING = "pending"
SUCCEEDED = "succeeded"
FAILED = "failed"  # every attempt of the schedule failed (or the endpoint went away)
DELIVERY_STATUSES = (PENDING, SUCCEEDED, FAILED)

ENABLED = "enabled"
DISABLED = "disabled"

# Exponential backoff: the n-th retry waits FIRST_RETRY * FACTOR**(n-1), capped, times a
# jitter of ±JITTER; MAX_ATTEMPTS attempts span about three days (nominally 66 hours).
FIRST_RETRY = timedelta(minutes=1)
RETRY_FACTOR = 3
MAX_RETRY_DELAY = timedelta(hours=24)
JITTER = 0.25
MAX_ATTEMPTS = 10
# Deliveries to one endpoint failing this many times in a row disable it.
DISABLE_AFTER_FAILURES = 20
# After a rotation the old secret still signs (a second signature) for this long.
DEFAULT_ROTATION_GRACE = timedelta(hours=24)
MAX_ROTATION_GRACE = timedelta(days=7)


def retry_delay(attempts: int, *, jitter: float) -> timedelta:
    """The wait after the `attempts`-th failed attempt; `jitter` is a uniform draw in [0, 1)."""
    nominal = min(FIRST_RETRY * RETRY_FACTOR ** max(attempts - 1, 0), MAX_RETRY_DELAY)
    return nominal * (1 - JITTER + 2 * JITTER * jitter)


def nominal_schedule() -> list[timedelta]:
    """The waits between the attempts of one delivery, without jitter (the documented table)."""
    return [retry_delay(n, jitter=0.5) for n in range(1, MAX_ATTEMPTS)]


def gives_up(attempts: int) -> bool:
    """Whether a delivery that failed its `attempts`-th attempt is failed for good."""
    return attempts >= MAX_ATTEMPTS


def disables_endpoint(consecutive_failures: int) -> bool:
    return consecutive_failures >= DISABLE_AFTER_FAILURES


def is_success(status_code: int | None) -> bool:
    """Any 2xx answer is a delivery; anything else (or no answer) is retried."""
    return status_code is not None and 200 <= status_code < 300


def new_secret(random_bytes: bytes) -> str:
    """A `whsec_` secret from SECRET_BYTES random bytes."""
    if len(random_bytes) != SECRET_BYTES:
        raise ValueError(f"a webhook secret takes {SECRET_BYTES} random bytes")
    return SECRET_PREFIX + base64.b64encode(random_bytes).decode("ascii")


def rotation_grace(seconds: int | None) -> timedelta:
    """The grace period a rotation asked for, within bounds (default a day)."""
    if seconds is None:
        return DEFAULT_ROTATION_GRACE
    grace = timedelta(seconds=seconds)
    if grace < timedelta(0) or grace > MAX_ROTATION_GRACE:
        raise ValidationFailed(
            "the grace period is out of range",
            code="invalid_grace_period",
            fields={"grace_seconds": f"0..{int(MAX_ROTATION_GRACE.total_seconds())}"},
        )
    return grace


def signature_header(secrets: Iterable[str], *, message_id: str, at: datetime, body: str) -> str:
    """`webhook-signature`: one `v1,` signature per live secret, space-separated."""
    return " ".join(
        Webhook(secret).sign(msg_id=message_id, timestamp=at, data=body) for secret in secrets
    )


def signed_headers(
    secrets: Iterable[str], *, message_id: str, at: datetime, body: str
) -> dict[str, str]:
    """The headers of one attempt, signed at `at` with every live secret."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature_header(secrets, message_id=message_id, at=at, body=body),
        "content-type": "application/json",
    }
