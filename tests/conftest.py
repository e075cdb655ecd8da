"""Shared fixtures. The database backend is chosen per run:

- default: a fresh SQLite file under pytest's tmp dir;
- FENXIAO_TEST_DB=mysql: a fresh database on TEST_MYSQL_URL's server (default
  mysql://root:@127.0.0.1:3306/test), created for this run and dropped at its end.
With CI=true, unreachable MariaDB or Redis fail the run instead of skipping.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from sanic import Sanic
from tortoise import Tortoise, connections

from server import clock
from server.config import Settings
from server.db import tortoise_config

# Hypothesis' timing checks (a deadline per example, "input generation is slow") measure the
# machine, not the code: CI runs its two passes at once on 2 cores. Examples stay as many.
hypothesis_settings.register_profile(
    "fenxiao", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
hypothesis_settings.load_profile("fenxiao")

pytest_plugins = ["tests.wechat_fixtures"]

IN_CI = os.environ.get("CI", "").lower() == "true"
BACKEND = os.environ.get("FENXIAO_TEST_DB", "sqlite")
# How long a child process (`server.cli migrate`, a probe script) may run before a test calls
# it hung: a guard against hangs, never a speed check. Migrating an empty MariaDB database
# costs ~25 s of CPU (tortoise re-renders every model per operation) and took 2m18s on a
# machine busy with two copies of the suite, past the 120 s the tests used to allow.
HANG_GUARD_SECONDS = 900
MYSQL_BASE = os.environ.get("TEST_MYSQL_URL", "mysql://root:@127.0.0.1:3306/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
TEST_JWT_SECRET = "test-secret-" + "x" * 40


@pytest.fixture(scope="session", autouse=True)
def fast_password_hashing() -> Iterator[None]:
    """Cheap argon2 parameters for tests only; production strength is asserted separately."""
    from argon2 import PasswordHasher

    from server import passwords

    original = passwords._hasher
    passwords._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    passwords._hasher = original


@pytest.fixture(scope="session", autouse=True)
def only_utc_instants_reach_the_database() -> Iterator[None]:
    """Raw SQL binds datetimes past the models' UtcDatetimeField: in tests, the drivers refuse
    a naive or non-UTC one too (MariaDB would drop its offset, SQLite compare its text)."""
    import datetime as dt
    import sqlite3

    from pymysql import converters

    from server.domain.instants import require_utc

    original = converters.encoders[dt.datetime]
    converters.encoders[dt.datetime] = lambda value, mapping=None: original(
        require_utc(value, what="raw SQL parameter"), mapping
    )
    sqlite3.register_adapter(
        dt.datetime, lambda value: require_utc(value, what="raw SQL parameter").isoformat(" ")
    )
    yield
    converters.encoders[dt.datetime] = original
    sqlite3.register_adapter(dt.datetime, lambda value: value.isoformat(" "))


@pytest.fixture(autouse=True)
def lawful_default_levels(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test runs at the default MAX_COMMISSION_LEVELS (2) unless it asks otherwise."""
    monkeypatch.delenv("MAX_COMMISSION_LEVELS", raising=False)


@pytest.fixture
def three_paid_levels(monkeypatch: pytest.MonkeyPatch) -> None:
    """A deployment that allows three earners per order line (MAX_COMMISSION_LEVELS=3)."""
    monkeypatch.setenv("MAX_COMMISSION_LEVELS", "3")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if BACKEND != "mysql":
        skip = pytest.mark.skip(reason="MariaDB-only test: run with FENXIAO_TEST_DB=mysql")
        for item in items:
            if "mysql" in item.keywords:
                item.add_marker(skip)


def _mysql_url_for(database: str) -> str:
    parts = urlsplit(MYSQL_BASE)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, ""))


async def _mysql_admin(sql: str) -> None:
    import aiomysql

    parts = urlsplit(MYSQL_BASE)
    conn = await aiomysql.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 3306,
        user=parts.username or "root",
        password=parts.password or "",
        autocommit=True,
    )
    try:
        async with conn.cursor() as cur:
            await cur.execute(sql)
    finally:
        conn.close()


@pytest.fixture(scope="session")
async def database_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """A brand-new, empty database for this test run, with the schema created."""
    if BACKEND == "mysql":
        name = f"fenxiao_t_{secrets.token_hex(6)}"
        try:
            await _mysql_admin(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        except Exception as exc:  # the run must fail loudly, never silently skip
            pytest.fail(f"MariaDB unreachable at {MYSQL_BASE}: {exc}", pytrace=False)
        url = _mysql_url_for(name)
    else:
        name = ""
        url = f"sqlite://{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
    config = tortoise_config(url)
    if BACKEND != "mysql":
        # A throwaway file: no fsync per commit (durability is all this changes; the servers
        # the e2e tests start keep SQLite's default). On this kind of VM a commit's fsync
        # costs milliseconds, and the suite commits tens of thousands of times.
        config["connections"]["default"]["credentials"]["synchronous"] = "OFF"
    await Tortoise.init(config=config)
    await Tortoise.generate_schemas(safe=False)
    try:
        yield url
    finally:
        await Tortoise.close_connections()
        if name:
            await _mysql_admin(f"DROP DATABASE IF EXISTS `{name}`")


async def _wipe_tables() -> None:
    """Empty every table in one transaction: one commit (one log flush) instead of one per
    table."""
    from server.db import connection, is_mysql

    conn = connection()
    tables = [m._meta.db_table for m in Tortoise.apps["models"].values()]
    if is_mysql(conn):
        await conn.execute_script(
            "SET FOREIGN_KEY_CHECKS=0;START TRANSACTION;"
            + "".join(f"DELETE FROM `{t}`;" for t in tables)
            + "COMMIT;SET FOREIGN_KEY_CHECKS=1;"
        )
    else:
        # foreign_keys can only change outside a transaction.
        await conn.execute_script(
            "PRAGMA foreign_keys=OFF;BEGIN;"
            + "".join(f'DELETE FROM "{t}";' for t in tables)
            + "COMMIT;PRAGMA foreign_keys=ON;"
        )


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[str]:
    """The run's database, emptied after each test that uses it."""
    try:
        yield database_url
    finally:
        clock.reset()
        await _wipe_tables()


# Connections for the MariaDB race tests: enough for every concurrent use case to hold one.
WIDE_POOL_SIZE = 40


@pytest.fixture
async def wide_pool(db: str) -> AsyncIterator[None]:
    """The run's connection pool reopened with room for real concurrency, then restored."""
    client = connections.get("default")
    assert client.capabilities.dialect == "mysql", "a race test needs MariaDB"
    saved = client.pool_maxsize  # type: ignore[attr-defined]
    await client.close()
    client.pool_maxsize = WIDE_POOL_SIZE  # type: ignore[attr-defined]
    try:
        yield
    finally:
        await client.close()
        client.pool_maxsize = saved  # type: ignore[attr-defined]


@pytest.fixture
def settings(database_url: str, tmp_path: os.PathLike[str]) -> Settings:
    return Settings(
        environment="test",
        database_url=database_url,
        jwt_secret=TEST_JWT_SECRET,
        visitor_hash_salt="test-salt",
        qr_cache_dir=str(tmp_path),
        media_dir=os.path.join(tmp_path, "media"),
        wechat_api_base="http://127.0.0.1:1",  # replaced by the stand-in fixture where used
    )


@pytest.fixture
def no_app_registry() -> Iterator[None]:
    Sanic._app_registry.clear()
    yield
    Sanic._app_registry.clear()
