"""Schema migrations: they build, from an empty database, the schema the models describe, and
no model change is missing from them. Runs on SQLite and (in the MariaDB pass) on MariaDB."""

from __future__ import annotations

import os
import secrets
import sqlite3
import sys
from pathlib import Path

import pytest

from server.db import connection, is_mysql
from tests.conftest import BACKEND, _mysql_admin, _mysql_url_for
from tests.migrated_databases import run_command

ROOT = Path(__file__).resolve().parents[2]

DETECT_PENDING = """
import asyncio
from tortoise import Tortoise
from tortoise.migrations.autodetector import MigrationAutodetector
from server.db import tortoise_config

async def main() -> None:
    config = tortoise_config("sqlite://:memory:")
    await Tortoise.init(config=config)
    try:
        writers = await MigrationAutodetector(Tortoise.apps, config["apps"]).changes()
        print(len(writers))
    finally:
        await Tortoise.close_connections()

asyncio.run(main())
"""


def _run(args: list[str], database_url: str | None = None) -> str:
    env = {**os.environ}
    if database_url:
        env["DATABASE_URL"] = database_url
    return run_command(args, env).stdout


def test_every_model_change_has_a_migration() -> None:
    pending = _run([sys.executable, "-c", DETECT_PENDING]).strip().splitlines()[-1]
    assert pending == "0", "models changed without a migration: run `tortoise makemigrations`"


async def _columns_of_test_database() -> dict[str, set[str]]:
    conn = connection()
    if is_mysql(conn):
        rows = await conn.execute_query_dict(
            "SELECT TABLE_NAME AS t, COLUMN_NAME AS c FROM information_schema.COLUMNS "
            "WHERE TABLE_SCHEMA = DATABASE()"
        )
    else:
        tables = await conn.execute_query_dict(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
        )
        rows = []
        for table in tables:
            for column in await conn.execute_query_dict(f'PRAGMA table_info("{table["name"]}")'):
                rows.append({"t": table["name"], "c": column["name"]})
    schema: dict[str, set[str]] = {}
    for row in rows:
        schema.setdefault(row["t"], set()).add(row["c"])
    return schema


async def _columns_of_mysql(database: str) -> dict[str, set[str]]:
    from urllib.parse import urlsplit

    import aiomysql

    from tests.conftest import MYSQL_BASE

    parts = urlsplit(MYSQL_BASE)
    conn = await aiomysql.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 3306,
        user=parts.username or "root",
        password=parts.password or "",
        db=database,
    )
    try:
        async with conn.cursor() as cur:
            await cur.execute(
                "SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.COLUMNS "
                "WHERE TABLE_SCHEMA = %s",
                (database,),
            )
            rows = await cur.fetchall()
    finally:
        conn.close()
    schema: dict[str, set[str]] = {}
    for table, column in rows:
        schema.setdefault(table, set()).add(column)
    return schema


def _columns_of_sqlite(path: Path) -> dict[str, set[str]]:
    with sqlite3.connect(path) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {t: {r[1] for r in conn.execute(f'PRAGMA table_info("{t}")')} for t in tables}


async def test_migrating_an_empty_database_builds_the_models_schema(
    db: str, tmp_path: Path
) -> None:
    expected = await _columns_of_test_database()
    if BACKEND == "mysql":
        name = f"fenxiao_m_{secrets.token_hex(6)}"
        await _mysql_admin(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        try:
            _run([sys.executable, "-m", "server.cli", "migrate"], _mysql_url_for(name))
            # Running again applies nothing and must not fail.
            _run([sys.executable, "-m", "server.cli", "migrate"], _mysql_url_for(name))
            migrated = await _columns_of_mysql(name)
        finally:
            await _mysql_admin(f"DROP DATABASE IF EXISTS `{name}`")
    else:
        path = tmp_path / "migrated.sqlite3"
        _run([sys.executable, "-m", "server.cli", "migrate"], f"sqlite://{path}")
        _run([sys.executable, "-m", "server.cli", "migrate"], f"sqlite://{path}")
        migrated = _columns_of_sqlite(path)
    bookkeeping = {t for t in migrated if t not in expected and "migration" in t}
    assert bookkeeping, "the migration recorder table is missing"
    assert {t: c for t, c in migrated.items() if t not in bookkeeping} == expected


@pytest.mark.mysql
async def test_migrated_mysql_tables_are_innodb_utf8mb4(db: str) -> None:
    rows = await connection().execute_query_dict(
        "SELECT TABLE_NAME AS t, ENGINE AS e, TABLE_COLLATION AS c FROM information_schema.TABLES "
        "WHERE TABLE_SCHEMA = DATABASE()"
    )
    assert rows
    assert {r["e"] for r in rows} == {"InnoDB"}
    assert all(r["c"].startswith("utf8mb4") for r in rows)


def test_no_model_description_breaks_the_migration_ddl() -> None:
    # tortoise-orm 1.1.9 writes table and column descriptions (docstrings) into the DDL
    # unescaped and splits migration SQL at ';', so a quote or semicolon breaks `migrate`.
    from tortoise import Tortoise

    quoted = [
        model.__name__
        for model in Tortoise.apps["models"].values()
        if _breaks_ddl(model._meta.table_description)
        or any(_breaks_ddl(f.description) for f in model._meta.fields_map.values())
    ]
    assert quoted == []


def _breaks_ddl(text: str | None) -> bool:
    return any(char in (text or "") for char in "';")
