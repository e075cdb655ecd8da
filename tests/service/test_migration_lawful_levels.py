"""Upgrading caps every stored program that pays more levels than MAX_COMMISSION_LEVELS, and
says which: a log line and an audit entry each. Runs on SQLite and (in the MariaDB pass) on
MariaDB."""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.conftest import BACKEND, _mysql_admin, _mysql_url_for
from tests.migrated_databases import copy_migrated, run_migrate
from tests.service.test_migration_upgrade import _filler, _mysql

BEFORE = "0007_utc_instants"
# id -> (max_levels, level_rates) as stored before the upgrade
PROGRAMS = {1: (3, ["10", "5", "2"]), 2: (2, ["10", "5"]), 3: (5, ["9", "4", "3", "2", "1"])}


def _migrate(url: str) -> str:
    """`server.cli migrate` to the latest migration on `url`; its output."""
    return run_migrate({**os.environ, "DATABASE_URL": url})


def _program_row(columns: list[tuple[str, str]], program_id: int) -> dict[str, Any]:
    levels, rates = PROGRAMS[program_id]
    row = {name: _filler(kind) for name, kind in columns}
    row.update(id=program_id, max_levels=levels, level_rates=json.dumps(rates))
    return row


@contextmanager
def _database(tmp_path: Path) -> Iterator[tuple[str, Any]]:
    """(url, a DB-API connection factory) of an empty database of the test's backend."""
    if BACKEND == "mysql":
        name = f"fenxiao_l_{secrets.token_hex(6)}"
        import asyncio

        asyncio.run(_mysql_admin(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
        try:
            yield _mysql_url_for(name), lambda: _mysql(name)
        finally:
            asyncio.run(_mysql_admin(f"DROP DATABASE IF EXISTS `{name}`"))
    else:
        path = tmp_path / "levels.sqlite3"

        @contextmanager
        def connect() -> Iterator[sqlite3.Connection]:
            conn = sqlite3.connect(path)
            try:
                yield conn
                conn.commit()
            finally:
                conn.close()

        yield f"sqlite://{path}", connect


def _columns(conn: Any) -> list[tuple[str, str]]:
    if BACKEND == "mysql":
        with conn.cursor() as cur:
            cur.execute(
                "SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS "
                "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'programs'"
            )
            return list(cur.fetchall())
    return [(r[1], r[2]) for r in conn.execute('PRAGMA table_info("programs")')]


def _query(conn: Any, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    if BACKEND == "mysql":
        with conn.cursor() as cur:
            cur.execute(sql.replace("?", "%s"), params or [])
            return list(cur.fetchall())
    return list(conn.execute(sql, params or []).fetchall())


def test_programs_above_the_cap_keep_their_nearest_levels_and_each_is_reported(
    tmp_path: Path,
) -> None:
    with _database(tmp_path) as (url, connect):
        copy_migrated(url, target=BEFORE)
        with connect() as conn:
            columns = _columns(conn)
            for program_id in PROGRAMS:
                row = _program_row(columns, program_id)
                names = ", ".join(row)
                marks = ", ".join("?" for _ in row)
                _query(conn, f"INSERT INTO programs ({names}) VALUES ({marks})", list(row.values()))

        output = _migrate(url)

        with connect() as conn:
            stored = {
                int(pid): (int(levels), json.loads(rates))
                for pid, levels, rates in _query(
                    conn, "SELECT id, max_levels, level_rates FROM programs ORDER BY id"
                )
            }
            audit = _query(
                conn,
                "SELECT target_id, actor_kind, details FROM audit_log WHERE action = ?"
                " ORDER BY target_id",
                ["program.levels_capped"],
            )
    assert stored == {1: (2, ["10", "5"]), 2: (2, ["10", "5"]), 3: (2, ["9", "4"])}
    assert [(int(target), actor) for target, actor, _ in audit] == [(1, "system"), (3, "system")]
    details = json.loads(audit[1][2])
    assert details["changes"]["max_levels"] == {"before": 5, "after": 2}
    assert details["max_commission_levels"] == 2
    assert "program 1 paid 3 levels, above MAX_COMMISSION_LEVELS=2" in output
    assert "program 3 paid 5 levels" in output and "program 2 " not in output
