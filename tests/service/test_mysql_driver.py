"""The product talks to MySQL/MariaDB through aiomysql, never asyncmy."""

from __future__ import annotations

import importlib.util

import pytest

from server.db import DEFAULT_MYSQL_POOL_SIZE, connection, is_mysql, with_pool_default


def test_asyncmy_is_not_installed_so_tortoise_cannot_prefer_it() -> None:
    assert importlib.util.find_spec("asyncmy") is None


@pytest.mark.mysql
async def test_the_mysql_backend_runs_on_aiomysql(db: str) -> None:
    from tortoise.backends.mysql import client

    assert is_mysql(connection())
    assert client.mysql.__name__ == "aiomysql"
    rows = await connection().execute_query_dict("SELECT VERSION() AS v")
    assert "MariaDB" in rows[0]["v"] or rows[0]["v"][0].isdigit()


def test_a_mysql_url_without_a_pool_size_gets_the_service_default() -> None:
    url = with_pool_default("mysql://app:secret@db:3306/fenxiao?charset=utf8mb4")
    assert url == (
        f"mysql://app:secret@db:3306/fenxiao?charset=utf8mb4&maxsize={DEFAULT_MYSQL_POOL_SIZE}"
    )


def test_a_pool_size_named_in_the_url_wins_and_sqlite_urls_are_left_alone() -> None:
    assert (
        with_pool_default("mysql://app@db/fenxiao?maxsize=7") == "mysql://app@db/fenxiao?maxsize=7"
    )
    assert with_pool_default("sqlite://var/fenxiao.sqlite3") == "sqlite://var/fenxiao.sqlite3"


@pytest.mark.mysql
async def test_the_service_pool_on_mysql_holds_more_than_tortoise_default(db: str) -> None:
    # tortoise's default of 5 queued concurrent requests for a connection (server/db.py).
    assert connection().pool_maxsize == DEFAULT_MYSQL_POOL_SIZE  # type: ignore[attr-defined]
