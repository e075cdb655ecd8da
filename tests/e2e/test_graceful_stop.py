"""Stopping the real server in the middle of a load loses no acknowledged request: every visit
answered 2xx before or during the shutdown is in the database afterwards (visits are buffered in
memory and flushed in batches, so this is where a loss would happen)."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import httpx
import pymysql

from tests.conftest import MYSQL_BASE
from tests.e2e.test_server_process import (  # noqa: F401  (the fixture)
    RunningServer,
    _ok,
    root_program,
    server,
)

CLIENTS = 16
# Stop once the load is really on (a loaded machine may take seconds to answer the first).
ANSWERED_BEFORE_STOP = 200
START_DEADLINE_SECONDS = 60

answered: list[int] = []  # appended by the client threads (list.append is atomic)


def _share_code(base_url: str) -> str:
    with httpx.Client(base_url=base_url, timeout=10) as http:
        _staff, program = root_program(http, "Stop shop")
        login = _ok(http.post("/mp/v1/auth/login", json={"code": "stopper#1"}))
        promoter = {"authorization": f"Bearer {login['access_token']}"}
        _ok(
            http.post(
                f"/mp/v1/programs/{program['id']}/applications",
                headers=promoter,
                json={"real_name": "Stopper", "phone": "13800138000"},
            ),
            201,
        )
        link = _ok(
            http.post(f"/mp/v1/programs/{program['id']}/links", headers=promoter, json={}), 201
        )
        return link["short_code"]


def _visit_until_refused(base_url: str, short_code: str, client: int) -> int:
    """Post visits until the server stops answering; how many it acknowledged (2xx)."""
    acknowledged = 0
    with httpx.Client(base_url=base_url, timeout=10) as http:
        for n in range(1_000_000):
            try:
                response = http.post(
                    "/mp/v1/visits",
                    json={"short_code": short_code, "visitor_id": f"c{client}-{n}"},
                )
            except httpx.HTTPError:
                return acknowledged
            if response.status_code >= 500:  # 503 while shutting down: not acknowledged
                return acknowledged
            assert 200 <= response.status_code < 300, response.text
            acknowledged += 1
            answered.append(1)
    return acknowledged


def _stored_visits(database_url: str) -> int:
    if database_url.startswith("sqlite://"):
        with sqlite3.connect(database_url.removeprefix("sqlite://")) as conn:
            return conn.execute("SELECT COUNT(*) FROM visits").fetchone()[0]
    parts, base = urlsplit(database_url), urlsplit(MYSQL_BASE)
    conn = pymysql.connect(
        host=base.hostname or "127.0.0.1",
        port=base.port or 3306,
        user=base.username or "root",
        password=base.password or "",
        database=parts.path.lstrip("/"),
    )
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM visits")
            return cur.fetchone()[0]
    finally:
        conn.close()


async def test_stopping_the_server_under_load_loses_no_acknowledged_visit(
    server: RunningServer,  # noqa: F811
) -> None:
    short_code = await asyncio.to_thread(_share_code, server.base_url)
    answered.clear()
    with ThreadPoolExecutor(CLIENTS) as pool:
        clients = [
            pool.submit(_visit_until_refused, server.base_url, short_code, i)
            for i in range(CLIENTS)
        ]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_DEADLINE_SECONDS
        while len(answered) < ANSWERED_BEFORE_STOP and loop.time() < deadline:
            await asyncio.sleep(0.05)
        server.process.send_signal(signal.SIGTERM)
        acknowledged = sum(client.result() for client in clients)
    assert await asyncio.to_thread(server.process.wait, 30) == 0, server.log()

    assert acknowledged >= ANSWERED_BEFORE_STOP
    assert _stored_visits(server.database_url) >= acknowledged, server.log()
