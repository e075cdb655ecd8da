"""Login throttling: how many failed logins a key (an account, a client address) may have
before it is locked out for a while.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from server.domain.errors import TooManyRequests


@dataclass(frozen=True)
class ThrottlePolicy:
    max_failures: int
    window: timedelta
    lockout: timedelta


@dataclass(frozen=True)
class ThrottleState:
    failures: int = 0
    window_started_at: datetime | None = None
    locked_until: datetime | None = None


def check_not_locked(state: ThrottleState, *, now: datetime) -> None:
    """Refuse with `too_many_login_attempts` (429) while the key is locked out."""
    if state.locked_until is not None and state.locked_until > now:
        retry_after = math.ceil((state.locked_until - now).total_seconds())
        raise TooManyRequests(
            "too many failed logins; try again later",
            code="too_many_login_attempts",
            fields={"retry_after_seconds": retry_after},
        )


def after_failure(state: ThrottleState, policy: ThrottlePolicy, *, now: datetime) -> ThrottleState:
    """The state after one more failed login at `now`."""
    window_over = state.window_started_at is None or now - state.window_started_at >= policy.window
    lock_over = state.locked_until is not None and state.locked_until <= now
    if window_over or lock_over:
        state = ThrottleState(window_started_at=now)
    failures = state.failures + 1
    locked_until = now + policy.lockout if failures >= policy.max_failures else None
    return ThrottleState(failures, state.window_started_at, locked_until)
