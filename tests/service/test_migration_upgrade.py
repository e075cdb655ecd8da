"""Upgrading from the previous release: a database migrated to the previous release's last
migration and holding rows in every table is migrated to the latest schema with every row kept.
Runs on SQLite and (in the MariaDB pass) on MariaDB."""

from __future__ import annotations

import os
import secrets
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from server.db import RELEASE_MIGRATIONS
from server.migrations import __path__ as migrations_path
from tests.conftest import BACKEND, _mysql_admin, _mysql_url_for
from tests.migrated_databases import copy_migrated, run_migrate
from tests.migrated_databases import mysql_connection as _mysql
from tests.service.test_migrations import (
    _columns_of_mysql,
    _columns_of_sqlite,
    _columns_of_test_database,
)

PREVIOUS_RELEASE = max(RELEASE_MIGRATIONS, key=lambda v: tuple(int(p) for p in v.split(".")))
PREVIOUS_MIGRATION = RELEASE_MIGRATIONS[PREVIOUS_RELEASE]


def _migration_names() -> list[str]:
    return sorted(p.stem for p in Path(migrations_path[0]).glob("[0-9][0-9][0-9][0-9]_*.py"))


def _filler(data_type: str) -> Any:
    """A value any column of this SQL type accepts (the rows only have to survive)."""
    kind = data_type.lower()
    if any(word in kind for word in ("int", "bool", "bit")):
        return 1
    if any(word in kind for word in ("dec", "numeric", "real", "double", "float")):
        return "1.00"
    if "datetime" in kind or "timestamp" in kind:
        return "2026-01-01 00:00:00"
    if kind.startswith("date"):
        return "2026-01-01"
    if kind.startswith("time"):
        return "00:00:00"
    if "blob" in kind or "binary" in kind:
        return b"x"
    # Valid JSON, for the text columns MariaDB checks as JSON (its JSON type is LONGTEXT).
    return "{}"


def _fill_mysql(database: str) -> dict[str, int]:
    with _mysql(database) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS "
            "WHERE TABLE_SCHEMA = %s AND TABLE_NAME NOT LIKE %s ORDER BY ORDINAL_POSITION",
            (database, "%migration%"),
        )
        columns: dict[str, list[tuple[str, str]]] = {}
        for table, column, data_type in cur.fetchall():
            columns.setdefault(table, []).append((column, data_type))
        # Foreign keys would need the tables filled in dependency order; the point here is
        # that rows survive the upgrade, so every row is simply id 1 pointing at id 1.
        cur.execute("SET FOREIGN_KEY_CHECKS = 0")
        for table, cols in columns.items():
            names = ", ".join(f"`{c}`" for c, _ in cols)
            marks = ", ".join(["%s"] * len(cols))
            cur.execute(
                f"INSERT INTO `{table}` ({names}) VALUES ({marks})",
                [_filler(t) for _, t in cols],
            )
        cur.execute("SET FOREIGN_KEY_CHECKS = 1")
        return _counts_mysql(cur, list(columns))


def _counts_mysql(cur: Any, tables: list[str]) -> dict[str, int]:
    counts = {}
    for table in tables:
        cur.execute(f"SELECT COUNT(*) FROM `{table}`")
        counts[table] = cur.fetchone()[0]
    return counts


def _fill_sqlite(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table' "
                "AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '%migration%'"
            )
        ]
        for table in tables:
            cols = [(r[1], r[2]) for r in conn.execute(f'PRAGMA table_info("{table}")')]
            names = ", ".join(f'"{c}"' for c, _ in cols)
            marks = ", ".join(["?"] * len(cols))
            conn.execute(
                f'INSERT INTO "{table}" ({names}) VALUES ({marks})', [_filler(t) for _, t in cols]
            )
        return {t: conn.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in tables}


def _migrate(url: str) -> None:
    """`server.cli migrate` to the latest migration on `url`."""
    run_migrate({**os.environ, "DATABASE_URL": url})


def test_the_previous_release_is_one_of_our_migrations() -> None:
    assert PREVIOUS_MIGRATION in _migration_names()


async def test_upgrading_from_the_previous_release_keeps_every_row(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Upgrades seal personal numbers (0025), which needs a lasting key.
    monkeypatch.setenv("S2S_KEY_ENCRYPTION_KEY", Fernet.generate_key().decode())
    expected = await _columns_of_test_database()
    if BACKEND == "mysql":
        name = f"fenxiao_u_{secrets.token_hex(6)}"
        await _mysql_admin(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        try:
            copy_migrated(_mysql_url_for(name), target=PREVIOUS_MIGRATION)
            before = _fill_mysql(name)
            _migrate(_mysql_url_for(name))
            with _mysql(name) as conn, conn.cursor() as cur:
                after = _counts_mysql(cur, list(before))
            migrated = await _columns_of_mysql(name)
        finally:
            await _mysql_admin(f"DROP DATABASE IF EXISTS `{name}`")
    else:
        path = tmp_path / "upgraded.sqlite3"
        copy_migrated(f"sqlite://{path}", target=PREVIOUS_MIGRATION)
        before = _fill_sqlite(path)
        _migrate(f"sqlite://{path}")
        with sqlite3.connect(path) as conn:
            after = {t: conn.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in before}
        migrated = _columns_of_sqlite(path)
    assert before and all(count == 1 for count in before.values())
    assert after == before
    assert {t: c for t, c in migrated.items() if "migration" not in t} == expected
