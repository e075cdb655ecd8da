"""Deliveries accepted at the same moment share one inbox statement, and each still gets its
own answer: a reused nonce, a known event id or a revoked key refuses that delivery alone."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from tortoise.exceptions import DBConnectionError

from server.config import Settings
from server.domain.access.signatures import UnspentNonce
from server.domain.errors import FenxiaoError
from server.models import Program, QueuedOrderEvent
from server.services.access.api_keys import IssuedApiKey, create_api_key, revoke_api_key
from server.services.orders import inbox_writes
from server.services.orders.inbox import Accepted, enqueue_order_event
from server.services.programs import settings as program_service
from tests.order_builders import ADMIN, line, paid

pytestmark = pytest.mark.usefixtures("db")


async def _program() -> Program:
    return await program_service.create_program(
        document={"name": "Shop", "currency": "CNY", "max_levels": 2, "level_rates": ["10", "5"]},
        actor=ADMIN,
    )


async def _key(settings: Settings, program: Program, name: str = "store") -> IssuedApiKey:
    return await create_api_key(program_id=program.id, name=name, actor=ADMIN, settings=settings)


def _deliver(
    settings: Settings, program: Program, issued: IssuedApiKey
) -> Callable[..., Awaitable[Accepted]]:
    async def deliver(external_id: str, nonce: str, amount: str = "100.00") -> Accepted:
        return await enqueue_order_event(
            program_id=program.id,
            payload=paid(
                external_id,
                line("L1", amount),
                buyer_external_id="c-1",
                event_id=f"evt-{external_id}",
            ),
            appid="wx-test",
            nonce=UnspentNonce(
                api_key_id=issued.api_key.id, key_id=issued.api_key.key_id, nonce=nonce
            ),
            settings=settings,
        )

    return deliver


def _count_statements(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of rows of every inbox statement written from now on."""
    rows: list[int] = []
    original = inbox_writes.sql_write

    async def counting(conn: Any, text: str, values: Any = ()) -> int:
        rows.append(text.count("UNION ALL") + 1)
        return await original(conn, text, values)

    monkeypatch.setattr(inbox_writes, "sql_write", counting)
    return rows


async def _stored_orders(program: Program) -> list[str]:
    """The orders of the program's inbox rows, sorted."""
    return sorted(
        await QueuedOrderEvent.filter(program_id=program.id).values_list(
            "order_external_id", flat=True
        )
    )


def _code(outcome: object) -> str | None:
    return outcome.code if isinstance(outcome, FenxiaoError) else None


async def test_deliveries_accepted_at_the_same_moment_are_stored_by_one_statement(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    program = await _program()
    deliver = _deliver(settings, program, await _key(settings, program))
    statements = _count_statements(monkeypatch)

    answers = await asyncio.gather(*(deliver(f"O-{n}", f"nonce-{n}") for n in range(5)))

    assert [answer.replayed for answer in answers] == [False] * 5
    assert statements == [5]
    stored = await QueuedOrderEvent.filter(program_id=program.id).values_list(
        "order_external_id", "status"
    )
    assert sorted(stored) == [(f"O-{n}", "queued") for n in range(5)]


async def test_a_reused_nonce_among_them_refuses_that_delivery_alone(
    settings: Settings,
) -> None:
    program = await _program()
    deliver = _deliver(settings, program, await _key(settings, program))
    await deliver("O-0", "nonce-used")

    outcomes = await asyncio.gather(
        deliver("O-1", "nonce-1"),
        deliver("O-2", "nonce-used"),
        deliver("O-3", "nonce-3"),
        return_exceptions=True,
    )

    assert [_code(outcome) for outcome in outcomes] == [None, "s2s_replayed", None]
    assert await _stored_orders(program) == ["O-0", "O-1", "O-3"]


async def test_a_known_event_id_among_them_is_answered_again_or_409_by_its_body(
    settings: Settings,
) -> None:
    program = await _program()
    deliver = _deliver(settings, program, await _key(settings, program))
    await deliver("O-0", "nonce-0")

    outcomes = await asyncio.gather(
        deliver("O-0", "nonce-again"),
        deliver("O-0", "nonce-other-body", amount="90.00"),
        deliver("O-1", "nonce-1"),
        return_exceptions=True,
    )

    again, other_body, fresh = outcomes
    assert isinstance(again, Accepted) and again.replayed
    assert _code(other_body) == "event_id_conflict"
    assert isinstance(fresh, Accepted) and not fresh.replayed
    assert await QueuedOrderEvent.filter(program_id=program.id).count() == 2


async def test_a_delivery_whose_key_was_revoked_meanwhile_is_refused_alone(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    program = await _program()
    live = _deliver(settings, program, await _key(settings, program, "live"))
    revoked_key = await _key(settings, program, "revoked")
    revoked = _deliver(settings, program, revoked_key)
    await revoke_api_key(program_id=program.id, key_id=revoked_key.api_key.key_id, actor=ADMIN)
    statements = _count_statements(monkeypatch)

    outcomes = await asyncio.gather(
        live("O-1", "nonce-1"),
        revoked("O-2", "nonce-2"),
        live("O-3", "nonce-3"),
        return_exceptions=True,
    )

    assert [_code(outcome) for outcome in outcomes] == [None, "s2s_key_invalid", None]
    assert statements == [3]
    assert await _stored_orders(program) == ["O-1", "O-3"]


async def test_a_failed_statement_fails_its_deliveries_and_the_next_ones_are_stored(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    program = await _program()
    deliver = _deliver(settings, program, await _key(settings, program))
    original = inbox_writes.sql_write
    failures = [DBConnectionError("the database went away")]

    async def failing_once(conn: Any, text: str, values: Any = ()) -> int:
        if failures:
            raise failures.pop()
        return await original(conn, text, values)

    monkeypatch.setattr(inbox_writes, "sql_write", failing_once)

    outcomes = await asyncio.gather(
        deliver("O-1", "nonce-1"), deliver("O-2", "nonce-2"), return_exceptions=True
    )
    later = await asyncio.gather(deliver("O-3", "nonce-3"), deliver("O-4", "nonce-4"))

    assert [type(outcome) for outcome in outcomes] == [DBConnectionError, DBConnectionError]
    assert [answer.replayed for answer in later] == [False, False]
    assert await _stored_orders(program) == ["O-3", "O-4"]


async def test_a_delivery_whose_request_went_away_does_not_hold_up_the_others(
    settings: Settings,
) -> None:
    program = await _program()
    deliver = _deliver(settings, program, await _key(settings, program))

    gone = asyncio.ensure_future(deliver("O-1", "nonce-1"))
    staying = asyncio.ensure_future(deliver("O-2", "nonce-2"))
    await asyncio.sleep(0)
    gone.cancel()

    answer = await staying
    assert not answer.replayed
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert await QueuedOrderEvent.filter(order_external_id="O-2").exists()
