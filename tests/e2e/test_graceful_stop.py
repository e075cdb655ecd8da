"""Stopping the real server in the middle of a load loses no acknowledged request: every visit
answered 2xx before or during the shutdown is in the database afterwards (visits are buffered in
memory and flushed in batches, so this is where a loss would happen)."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import BACKEND
from tests.e2e.test_server_process import (  # noqa: F401  (the fixture)
    RunningServer,
    _ok,
    root_program,
    running_server,
    server,
)
from tests.migrated_databases import mysql_connection

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
    with mysql_connection(urlsplit(database_url).path.lstrip("/")) as conn, conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM visits")
        return cur.fetchone()[0]


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


# What the server logs when a flush could not write (the rows stay pending, retried later).
FLUSH_FAILED = "visit flush failed"
# Python's default SQLite busy timeout is 5 s: the first flush fails a little after it.
FLUSH_FAILURE_DEADLINE_SECONDS = 60
# How long the write lock stays held after the SIGTERM: past the busy timeout, so the flush
# under way then fails too, and within the stop's 15 s, so the final flush gets the lock.
HELD_AFTER_STOP_SECONDS = 7.0


@pytest.fixture
def two_worker_server(tmp_path: Path) -> Iterator[RunningServer]:
    if BACKEND != "sqlite":
        pytest.skip("the shared SQLite file's write lock is what this test holds")
    with running_server(tmp_path, WORKERS="2") as running:
        yield running


def _visits_until_a_flush_fails(running: RunningServer, short_code: str) -> int:
    """Post visits one after the other until the server logs a failed flush; how many were
    acknowledged (2xx)."""
    acknowledged = 0
    deadline = time.monotonic() + FLUSH_FAILURE_DEADLINE_SECONDS
    with httpx.Client(base_url=running.base_url, timeout=30) as http:
        while FLUSH_FAILED not in running.log_path.read_text(errors="replace"):
            assert time.monotonic() < deadline, running.log()
            for _ in range(20):
                response = http.post(
                    "/mp/v1/visits",
                    json={"short_code": short_code, "visitor_id": f"held-{acknowledged}"},
                )
                assert 200 <= response.status_code < 300, response.text
                acknowledged += 1
    return acknowledged


def test_visits_pending_when_a_flush_found_the_database_locked_are_kept_at_stop(
    two_worker_server: RunningServer,
) -> None:
    # The visits benchmark on SQLite lost 5,000 acknowledged visits at SIGTERM: a flush's
    # BEGIN IMMEDIATE had found the shared file locked past the busy timeout, tortoise kept
    # the worker's connection lock, and the final flush at shutdown waited for it until the
    # stop's deadline, then gave the visits up (server/sqlite_engine.py).
    short_code = _share_code(two_worker_server.base_url)
    path = two_worker_server.database_url.removeprefix("sqlite://")
    other_process = sqlite3.connect(path, isolation_level=None)
    try:
        other_process.execute("BEGIN IMMEDIATE")
        acknowledged = _visits_until_a_flush_fails(two_worker_server, short_code)
        # The flush under way at the stop fails as well: the stop's own flush must write.
        two_worker_server.process.send_signal(signal.SIGTERM)
        time.sleep(HELD_AFTER_STOP_SECONDS)
        other_process.execute("COMMIT")
    finally:
        other_process.close()
    assert two_worker_server.process.wait(30) == 0, two_worker_server.log()

    assert _stored_visits(two_worker_server.database_url) == acknowledged, two_worker_server.log()
