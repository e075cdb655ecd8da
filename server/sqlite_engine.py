"""SQLite as the embedded default runs it: a transaction takes the write lock as it begins
(BEGIN IMMEDIATE); named as the engine of SQLite URLs by server/db.py.

A transaction that cannot begin or commit gives its process's connection back: tortoise's
own SQLite transaction keeps the connection's lock when BEGIN fails (`database is locked`
after the busy timeout, while another process writes), and every later query of the process
then waits for it forever — a worker's visit buffer could flush nothing more, answered 503
and lost what it had acknowledged at shutdown (bench/RESULTS.md, Visits).
"""

from __future__ import annotations

import contextlib
import sqlite3
from typing import Any

from tortoise.backends.base.client import TransactionalDBClient, TransactionContext
from tortoise.backends.sqlite.client import (
    SqliteClient,
    SqliteTransactionContext,
    SqliteTransactionWrapper,
)
from tortoise.connection import get_connections
from tortoise.exceptions import TransactionManagementError


class _ImmediateTransaction(SqliteTransactionWrapper):
    async def begin(self) -> None:
        try:
            # As tortoise does: end whatever implicit transaction the connection is in.
            await self._connection.commit()
            await self._connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            raise TransactionManagementError(error) from error

    async def abandon(self) -> None:
        """Roll back whatever this transaction left open; never raises."""
        # The connection's thread runs calls in order: a BEGIN that a cancellation left
        # running has finished before this rollback, which is a no-op outside a transaction.
        with contextlib.suppress(Exception):
            await self._connection.rollback()
        self._finalized = True


class _ImmediateTransactionContext(SqliteTransactionContext):
    connection: _ImmediateTransaction

    async def __aenter__(self) -> TransactionalDBClient:
        await self._trxlock.acquire()
        try:
            await self.ensure_connection()
            self.token = get_connections().set(self.connection_name, self.connection)
            try:
                await self.connection.begin()
            except BaseException:
                get_connections().reset(self.token)
                raise
        except BaseException:
            await self.connection.abandon()
            self._trxlock.release()
            raise
        return self.connection

    async def __aexit__(self, exc_type: Any, exc_val: Any, exc_tb: Any) -> None:
        try:
            if self.connection._finalized:
                return
            if exc_type:
                await self.connection.abandon()
                return
            try:
                await self.connection.commit()
            except BaseException:
                # A failed COMMIT leaves the transaction open, holding the write lock: the
                # next statement of the process would run inside it.
                await self.connection.abandon()
                raise
        finally:
            get_connections().reset(self.token)
            self._trxlock.release()


class ImmediateSqliteClient(SqliteClient):
    def _in_transaction(self) -> TransactionContext:
        return _ImmediateTransactionContext(_ImmediateTransaction(self), self._lock)


client_class = ImmediateSqliteClient
