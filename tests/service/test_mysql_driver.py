"""The product talks to MySQL/MariaDB through aiomysql, never asyncmy."""

from __future__ import annotations

import importlib.util

import pytest

from server.db import connection, is_mysql


def test_asyncmy_is_not_installed_so_tortoise_cannot_prefer_it() -> None:
    assert importlib.util.find_spec("asyncmy") is None


@pytest.mark.mysql
async def test_the_mysql_backend_runs_on_aiomysql(db: str) -> None:
    from tortoise.backends.mysql import client

    assert is_mysql(connection())
    assert client.mysql.__name__ == "aiomysql"
    rows = await connection().execute_query_dict("SELECT VERSION() AS v")
    assert "MariaDB" in rows[0]["v"] or rows[0]["v"][0].isdigit()
