"""Login throttling through the database, so every worker sees the same failures."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from server import clock
from server.config import Settings
from server.domain.access.login_throttle import (
    ThrottlePolicy,
    ThrottleState,
    after_failure,
    check_not_locked,
)
from server.models.login_throttle import LoginThrottle

# A client address may serve many people (an office, a carrier's NAT), so it gets more tries.
ADDRESS_ALLOWANCE = 4


def account_key(surface: str, username: str) -> str:
    return f"{surface}:account:{username.strip().lower()}"[:160]


def address_key(surface: str, address: str | None) -> str:
    return f"{surface}:address:{address or 'unknown'}"[:160]


def _policy(key: str, settings: Settings) -> ThrottlePolicy:
    allowance = ADDRESS_ALLOWANCE if ":address:" in key else 1
    period = timedelta(seconds=settings.login_lockout_seconds)
    return ThrottlePolicy(settings.login_max_failures * allowance, window=period, lockout=period)


def _state(row: LoginThrottle | None) -> ThrottleState:
    if row is None:
        return ThrottleState()
    return ThrottleState(row.failures, row.window_started_at, row.locked_until)


async def ensure_login_allowed(*, keys: Sequence[str]) -> None:
    """Refuse (429 too_many_login_attempts) if any of the keys is locked out."""
    now = clock.now()
    for row in await LoginThrottle.filter(key__in=list(keys)):
        check_not_locked(_state(row), now=now)


async def record_login_failure(*, keys: Sequence[str], settings: Settings) -> None:
    """Count one failed login against each key (in its own transaction: the login failed)."""
    try:
        await _count_failure(keys, settings)
    except IntegrityError:
        # Another worker created a key's row first; now it exists and can be locked.
        await _count_failure(keys, settings)


async def _count_failure(keys: Sequence[str], settings: Settings) -> None:
    now = clock.now()
    async with in_transaction() as conn:
        for key in sorted(keys):  # one lock order for every worker
            row = await LoginThrottle.filter(key=key).using_db(conn).select_for_update().first()
            state = after_failure(_state(row), _policy(key, settings), now=now)
            if row is None:
                await LoginThrottle.create(
                    key=key,
                    failures=state.failures,
                    window_started_at=state.window_started_at,
                    locked_until=state.locked_until,
                    using_db=conn,
                )
            else:
                row.failures = state.failures
                row.window_started_at = state.window_started_at  # type: ignore[assignment]
                row.locked_until = state.locked_until
                await row.save(using_db=conn)


async def clear_login_failures(*, key: str) -> None:
    """Forget an account's failures after it logged in."""
    await LoginThrottle.filter(key=key).delete()
