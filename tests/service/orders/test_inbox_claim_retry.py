"""A drainer's claim that loses a lock race to another drainer looks again instead of failing
(two claim-and-apply pipelines per worker, and the workers' drainers, claim at once)."""

from __future__ import annotations

import pymysql
import pytest
from tortoise.exceptions import OperationalError

from server.services.orders import inbox


async def test_a_claim_that_hit_a_deadlock_looks_again(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    async def claim_once(*, limit: int, now: object) -> list[inbox.ClaimedEvent]:
        calls.append(limit)
        if len(calls) == 1:
            deadlock = pymysql.err.OperationalError(1213, "Deadlock found")
            raise OperationalError(deadlock) from deadlock
        return []

    monkeypatch.setattr(inbox, "_claim_once", claim_once)
    assert await inbox.claim_events(limit=7) == []
    assert calls == [7, 7]


async def test_a_claim_that_failed_otherwise_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    async def claim_once(*, limit: int, now: object) -> list[inbox.ClaimedEvent]:
        raise OperationalError("the database went away")

    monkeypatch.setattr(inbox, "_claim_once", claim_once)
    with pytest.raises(OperationalError, match="went away"):
        await inbox.claim_events()
