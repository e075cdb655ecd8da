"""The embedded default's SQLite file is shared by the server's workers: a transaction that
read before another worker committed must still be able to write (server/sqlite_engine.py)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from tortoise.backends.sqlite.client import SqliteClient
from tortoise.exceptions import TransactionManagementError

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


async def test_a_transaction_that_cannot_begin_gives_the_connection_back(tmp_path: Path) -> None:
    # Another process holds the write lock past the busy timeout: BEGIN IMMEDIATE fails with
    # `database is locked`. Tortoise's own context kept the connection's lock then, and every
    # later query of the process waited forever (a worker's visits were lost at shutdown).
    path = tmp_path / "shared.sqlite3"
    worker = ImmediateSqliteClient(
        file_path=str(path), connection_name="locked_out_worker", busy_timeout=100
    )
    await worker.create_connection(with_db=True)
    await worker.execute_script("CREATE TABLE visits (id INTEGER PRIMARY KEY)")
    other_process = sqlite3.connect(path, isolation_level=None)
    try:
        other_process.execute("BEGIN IMMEDIATE")
        with pytest.raises(TransactionManagementError, match="locked"):
            async with worker._in_transaction() as transaction:
                await transaction.execute_query("INSERT INTO visits DEFAULT VALUES")
        other_process.execute("COMMIT")

        async with asyncio.timeout(5):
            async with worker._in_transaction() as transaction:
                await transaction.execute_query("INSERT INTO visits DEFAULT VALUES")
            _, rows = await worker.execute_query("SELECT COUNT(*) AS n FROM visits")
        assert rows[0]["n"] == 1
        # Nothing was left open: the other process can write at once.
        other_process.execute("BEGIN IMMEDIATE")
        other_process.execute("COMMIT")
    finally:
        other_process.close()
        await worker.close()
