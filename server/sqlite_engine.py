"""SQLite as the embedded default runs it: a transaction takes the write lock as it begins.

Tortoise begins SQLite transactions with a plain (deferred) BEGIN, which asks for the write
lock only at the transaction's first write. With two server workers on one file that fails
at once: a transaction that read before the other worker committed holds a snapshot it may
no longer write from (SQLITE_BUSY_SNAPSHOT, "database is locked", whatever the busy
timeout). BEGIN IMMEDIATE asks for the lock first, waiting up to the busy timeout for the
other worker's transaction to end, and then reads what that worker wrote. Within one worker
tortoise runs one transaction at a time anyway (one connection), so nothing else waits more.

Named as the engine of SQLite URLs by server/db.py.
"""

from __future__ import annotations

import sqlite3

from tortoise.backends.base.client import TransactionContext
from tortoise.backends.sqlite.client import (
    SqliteClient,
    SqliteTransactionContext,
    SqliteTransactionWrapper,
)
from tortoise.exceptions import TransactionManagementError


class _ImmediateTransaction(SqliteTransactionWrapper):
    async def begin(self) -> None:
        try:
            # As tortoise does: end whatever implicit transaction the connection is in.
            await self._connection.commit()
            await self._connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            raise TransactionManagementError(error) from error


class ImmediateSqliteClient(SqliteClient):
    def _in_transaction(self) -> TransactionContext:
        return SqliteTransactionContext(_ImmediateTransaction(self), self._lock)


client_class = ImmediateSqliteClient
