"""Database wiring: tortoise-orm configuration, start-up, migrations and dialect facts."""

from __future__ import annotations

import os
from typing import Any

from tortoise import Tortoise, connections
from tortoise.backends.base.client import BaseDBAsyncClient

MODEL_MODULES = ["server.models"]
MIGRATIONS_PACKAGE = "server.migrations"
# The last migration of each release: an upgrade test migrates a database from the previous
# release's schema, filled with rows, to the latest one.
RELEASE_MIGRATIONS = {"0.1.0": "0001_initial"}


def tortoise_config(database_url: str) -> dict[str, Any]:
    """The tortoise config dict for `database_url` (sqlite://path or mysql://…)."""
    if database_url.startswith("sqlite://") and not database_url.endswith(":memory:"):
        path = database_url.removeprefix("sqlite://")
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
    return {
        "connections": {"default": database_url},
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
