"""The embedded default's SQLite file is shared by the server's workers: a transaction that
read before another worker committed must still be able to write (server/sqlite_engine.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from tortoise.backends.sqlite.client import SqliteClient

from server.sqlite_engine import ImmediateSqliteClient

# Transactions run in tortoise's connection context, which the run's database set-up opens.
pytestmark = pytest.mark.usefixtures("database_url")

# Long enough for the other worker to commit in between, if nothing stops it.
OTHER_WORKER_TURN = 0.2


async def _two_workers_add_one_each(client_class: type[SqliteClient], path: Path) -> int:
    first = client_class(file_path=str(path), connection_name="first_worker")
    second = client_class(file_path=str(path), connection_name="second_worker")
    for client in (first, second):
        await client.create_connection(with_db=True)
    await first.execute_script(
        "CREATE TABLE balances (id INTEGER PRIMARY KEY, amount INTEGER NOT NULL);"
        " INSERT INTO balances VALUES (1, 0);"
    )
    has_read = asyncio.Event()

    async def read_then_write() -> None:
        async with first._in_transaction() as transaction:
            await transaction.execute_query("SELECT amount FROM balances WHERE id = 1")
            has_read.set()
            await asyncio.sleep(OTHER_WORKER_TURN)
            await transaction.execute_query("UPDATE balances SET amount = amount + 1")

    async def write_meanwhile() -> None:
        await has_read.wait()
        async with second._in_transaction() as transaction:
            await transaction.execute_query("UPDATE balances SET amount = amount + 1")

    try:
        await asyncio.gather(read_then_write(), write_meanwhile())
        _, rows = await first.execute_query("SELECT amount FROM balances WHERE id = 1")
        return int(rows[0]["amount"])
    finally:
        await first.close()
        await second.close()


async def test_a_worker_that_read_before_another_committed_still_writes_and_nothing_is_lost(
    tmp_path: Path,
) -> None:
    assert await _two_workers_add_one_each(ImmediateSqliteClient, tmp_path / "shared.sqlite3") == 2
