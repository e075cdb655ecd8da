"""Database wiring: tortoise-orm configuration, start-up, migrations and dialect facts."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pymysql.err import MySQLError
from tortoise import Tortoise, connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.backends.base.config_generator import expand_db_url

MODEL_MODULES = ["server.models"]
MIGRATIONS_PACKAGE = "server.migrations"
# The last migration of each release: an upgrade test migrates a database from the previous
# release's schema, filled with rows, to the latest one.
RELEASE_MIGRATIONS = {"0.1.0": "0001_initial"}
# Connections per process on MySQL when DATABASE_URL names no `maxsize`. With tortoise's own
# default (5) a worker serving a few dozen concurrent requests queues them for a connection:
# accepted order events at 32 connections had a p99 of 67-108 ms with 5, 42-49 ms with 20
# (bench/RESULTS.md). 20 per process leaves a 151-connection MariaDB room for 7 processes.
DEFAULT_MYSQL_POOL_SIZE = 20


def with_pool_default(database_url: str) -> str:
    """`database_url` with the default MySQL pool size unless it names one itself."""
    parts = urlsplit(database_url)
    if parts.scheme != "mysql":
        return database_url
    params = parse_qsl(parts.query, keep_blank_values=True)
    if any(name == "maxsize" for name, _value in params):
        return database_url
    query = urlencode([*params, ("maxsize", str(DEFAULT_MYSQL_POOL_SIZE))])
    return urlunsplit(parts._replace(query=query))


def _connection_config(database_url: str) -> str | dict[str, Any]:
    if not database_url.startswith("sqlite://"):
        return with_pool_default(database_url)
    if not database_url.endswith(":memory:"):
        directory = os.path.dirname(database_url.removeprefix("sqlite://"))
        if directory:
            os.makedirs(directory, exist_ok=True)
    # Transactions that take the write lock as they begin (server/sqlite_engine.py).
    return {**expand_db_url(database_url), "engine": "server.sqlite_engine"}


def tortoise_config(database_url: str) -> dict[str, Any]:
    """The tortoise config dict for `database_url` (sqlite://path or mysql://…)."""
    return {
        "connections": {"default": _connection_config(database_url)},
        "apps": {
            "models": {
                "models": MODEL_MODULES,
                "default_connection": "default",
                "migrations": MIGRATIONS_PACKAGE,
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


# `tortoise -c server.db.TORTOISE_ORM makemigrations` reads this.
TORTOISE_ORM = tortoise_config(os.environ.get("DATABASE_URL") or "sqlite://var/fenxiao.sqlite3")


async def init_db(database_url: str) -> None:
    # The global fallback makes the context set up in a start-up listener visible to the
    # request and job tasks that run later on the same loop (contextvars do not flow back).
    await Tortoise.init(config=tortoise_config(database_url), _enable_global_fallback=True)


async def close_db() -> None:
    await Tortoise.close_connections()


async def migrate(database_url: str, *, target: str | None = None) -> None:
    """Apply pending migrations up to `target` (a migration name; default: the latest)."""
    from tortoise.migrations.api import migrate as run_migrations

    try:
        await run_migrations(
            config=tortoise_config(database_url),
            target=f"models.{target}" if target else None,
        )
    finally:
        await Tortoise.close_connections()


def connection() -> BaseDBAsyncClient:
    return connections.get("default")


def is_mysql(conn: BaseDBAsyncClient | None = None) -> bool:
    conn = conn or connection()
    return conn.capabilities.dialect == "mysql"


def param_marker(conn: BaseDBAsyncClient | None = None) -> str:
    """Raw-SQL parameter marker: `%s` on MySQL, `?` on SQLite."""
    return "%s" if is_mysql(conn) else "?"


async def ping() -> None:
    await connection().execute_query("SELECT 1")


# MySQL's deadlock and lock wait timeout: the statement's transaction lost a race for locks.
LOCK_CONFLICT_ERRORS = frozenset({1213, 1205})


def is_lock_conflict(error: BaseException) -> bool:
    """A MySQL deadlock or lock wait timeout anywhere in the exception's chain."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        for candidate in (current, *(a for a in current.args if isinstance(a, BaseException))):
            if (
                isinstance(candidate, MySQLError)
                and candidate.args
                and candidate.args[0] in LOCK_CONFLICT_ERRORS
            ):
                return True
        current = current.__cause__ or current.__context__
    return False
