from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from server.domain.access.login_throttle import (
    ThrottlePolicy,
    ThrottleState,
    after_failure,
    check_not_locked,
)
from server.domain.errors import TooManyRequests

POLICY = ThrottlePolicy(max_failures=3, window=timedelta(minutes=15), lockout=timedelta(minutes=15))
T0 = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


def _fail(times: int, *, start: datetime = T0, step: timedelta = timedelta(seconds=1)):
    state = ThrottleState()
    for i in range(times):
        state = after_failure(state, POLICY, now=start + i * step)
    return state


def test_failures_below_the_maximum_do_not_lock() -> None:
    check_not_locked(_fail(2), now=T0 + timedelta(seconds=3))


def test_reaching_the_maximum_locks_for_the_lockout_with_a_retry_after() -> None:
    state = _fail(3)
    with pytest.raises(TooManyRequests) as refused:
        check_not_locked(state, now=T0 + timedelta(minutes=1))
    assert refused.value.code == "too_many_login_attempts"
    assert refused.value.fields["retry_after_seconds"] == 14 * 60 + 2


def test_the_lock_ends_when_the_lockout_has_passed() -> None:
    check_not_locked(_fail(3), now=T0 + timedelta(minutes=15, seconds=3))


def test_failures_spread_beyond_the_window_start_counting_again() -> None:
    state = _fail(3, step=timedelta(minutes=8))
    assert state.failures == 1
    check_not_locked(state, now=T0 + timedelta(minutes=17))


def test_a_failure_after_a_lock_ended_starts_a_fresh_count() -> None:
    state = after_failure(_fail(3), POLICY, now=T0 + timedelta(minutes=20))
    assert state.failures == 1 and state.locked_until is None
