"""Databases as `server.cli migrate [--target …]` leaves them, without paying for the migration
each time.

Migrating an empty database costs ~25 s of CPU (tortoise re-renders every model for each
operation), and a run needs a migrated database for a dozen servers and for every upgrade test.
So each (set of migrations, target) is migrated once, by the command itself, into a template,
and a test's database is a copy of it:

- SQLite: a file in the system temp directory, copied byte for byte;
- MariaDB: a database `fenxiao_tpl_<digest>` on the test server, its tables recreated from
  their `SHOW CREATE TABLE` (keys, foreign keys and AUTO_INCREMENT included) and their rows
  copied. A table `_template_complete` marks a finished template; a named lock (GET_LOCK)
  makes concurrent runs build it once.

A new or edited migration changes the digest, so a stale template is never used. The tests that
check migrating itself (tests/service/test_migrations.py, and every upgrade test's last step)
still run the command.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pymysql

from tests.conftest import HANG_GUARD_SECONDS, MYSQL_BASE, _mysql_url_for

ROOT = Path(__file__).resolve().parents[1]
COMPLETE_MARK = "_template_complete"

# Per process: template name -> (CREATE TABLE statements, tables holding rows).
_mysql_templates: dict[str, tuple[list[str], list[str]]] = {}


def run_command(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`args` run from the repository root in `env`, which must exit 0."""
    result = subprocess.run(
        args,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_SECONDS,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def run_migrate(env: dict[str, str], target: str | None = None) -> str:
    """`server.cli migrate [--target target]` in `env`; its output."""
    command = [sys.executable, "-m", "server.cli", "migrate"]
    result = run_command(command + (["--target", target] if target else []), env)
    return result.stdout + result.stderr


def _digest(target: str | None) -> str:
    digest = hashlib.sha256(f"target={target}\n".encode())
    for path in sorted((ROOT / "server" / "migrations").glob("*.py")):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:16]


@contextmanager
def mysql_connection(database: str | None = None) -> Iterator[pymysql.connections.Connection]:
    """An autocommit connection to the test MariaDB server (on `database`, if named)."""
    parts = urlsplit(MYSQL_BASE)
    conn = pymysql.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 3306,
        user=parts.username or "root",
        password=parts.password or "",
        database=database,
        autocommit=True,
    )
    try:
        yield conn
    finally:
        conn.close()


def _sqlite_template(env: dict[str, str], target: str | None) -> Path:
    template = Path(tempfile.gettempdir()) / f"fenxiao-migrated-{_digest(target)}.sqlite3"
    if not template.exists():
        partial = template.with_suffix(f".{os.getpid()}.{secrets.token_hex(4)}.partial")
        run_migrate({**env, "DATABASE_URL": f"sqlite://{partial}"}, target)
        os.replace(partial, template)  # whole or not at all, whoever finishes first
    return template


def _mysql_template(env: dict[str, str], target: str | None) -> tuple[str, list[str], list[str]]:
    """The template's name, its CREATE TABLE statements and the tables that hold rows."""
    name = f"fenxiao_tpl_{_digest(target)}"
    if name not in _mysql_templates:
        with mysql_connection() as conn, conn.cursor() as cur:
            cur.execute("SELECT GET_LOCK(%s, %s)", (name, HANG_GUARD_SECONDS))
            assert cur.fetchone()[0] == 1, f"never got the lock on the template {name}"
            try:
                cur.execute(
                    "SELECT COUNT(*) FROM information_schema.TABLES"
                    " WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
                    (name, COMPLETE_MARK),
                )
                if not cur.fetchone()[0]:  # absent, or left half-built by a killed run
                    cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
                    cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
                    run_migrate({**env, "DATABASE_URL": _mysql_url_for(name)}, target)
                    cur.execute(f"CREATE TABLE `{name}`.`{COMPLETE_MARK}` (id INT)")
                cur.execute(
                    "SELECT TABLE_NAME FROM information_schema.TABLES"
                    " WHERE TABLE_SCHEMA = %s AND TABLE_TYPE = 'BASE TABLE'"
                    " AND TABLE_NAME <> %s ORDER BY TABLE_NAME",
                    (name, COMPLETE_MARK),
                )
                tables = [row[0] for row in cur.fetchall()]
                creates, filled = [], []
                for table in tables:
                    cur.execute(f"SHOW CREATE TABLE `{name}`.`{table}`")
                    creates.append(cur.fetchone()[1])
                    cur.execute(f"SELECT EXISTS (SELECT 1 FROM `{name}`.`{table}`)")
                    if cur.fetchone()[0]:
                        filled.append(table)
            finally:
                cur.execute("SELECT RELEASE_LOCK(%s)", (name,))
        _mysql_templates[name] = (creates, filled)
    return name, *_mysql_templates[name]


def copy_migrated(
    database_url: str, *, target: str | None = None, env: dict[str, str] | None = None
) -> None:
    """Make `database_url`, an empty database, what `server.cli migrate [--target target]`
    (in `env`, default this process's environment) would make it."""
    env = {**(os.environ if env is None else env), "DATABASE_URL": database_url}
    if database_url.startswith("sqlite://"):
        shutil.copyfile(_sqlite_template(env, target), database_url.removeprefix("sqlite://"))
        return
    database = urlsplit(database_url).path.lstrip("/")
    template, creates, filled = _mysql_template(env, target)
    with mysql_connection(database) as conn, conn.cursor() as cur:
        cur.execute("SET FOREIGN_KEY_CHECKS = 0")
        for create in creates:
            cur.execute(create)
        for table in filled:
            cur.execute(f"INSERT INTO `{table}` SELECT * FROM `{template}`.`{table}`")
