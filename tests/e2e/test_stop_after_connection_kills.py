"""After MariaDB killed the server's database connections in the middle of its work (order
events being applied by the drainers, stores sending more), the server still stops at once
on SIGTERM with status 0 (a worker ignored SIGTERM for 40 s: the drainer's stop had no
deadline)."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from urllib.parse import urlsplit

import httpx
import pymysql
import pytest

from tests.conftest import BACKEND
from tests.e2e.test_order_event_inbox_process import _send, _store_key
from tests.e2e.test_server_process import RunningServer, server  # noqa: F401  (the fixture)
from tests.migrated_databases import mysql_connection
from tests.order_builders import line, paid

pytestmark = pytest.mark.skipif(BACKEND != "mysql", reason="kills MariaDB connections")

EVENTS = 300
KILL_ROUNDS = 3
# Hang guard only: the unit's TimeoutStopSec (deploy/systemd/fenxiao-web.service).
STOP_LIMIT_SECONDS = 30


@pytest.fixture
def two_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKERS", "2")


def _kill_connections(database_url: str) -> int:
    """KILL every connection MariaDB has open to the server's database; how many."""
    killed = 0
    with mysql_connection() as admin, admin.cursor() as cursor:
        cursor.execute(
            "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = %s AND ID <> CONNECTION_ID()",
            [urlsplit(database_url).path.lstrip("/")],
        )
        for (connection_id,) in cursor.fetchall():
            try:
                cursor.execute(f"KILL CONNECTION {int(connection_id)}")
                killed += 1
            except pymysql.MySQLError:
                pass  # it ended meanwhile
    return killed


def test_the_server_stops_at_once_after_its_database_connections_were_killed(
    two_workers: None,
    server: RunningServer,  # noqa: F811
) -> None:
    stop_sending = threading.Event()
    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        _program_id, key_id, secret = _store_key(http)

        def send_events() -> None:
            with httpx.Client(base_url=server.base_url, timeout=10) as store:
                for n in range(EVENTS):
                    if stop_sending.is_set():
                        return
                    body = paid(f"KILL-{n}", line("A", "20.00"), buyer_external_id=f"k-{n}")
                    try:
                        _send(store, key_id, secret, body, Prefer="respond-async")
                    except httpx.HTTPError:
                        return

        sender = threading.Thread(target=send_events)
        sender.start()
        killed = 0
        try:
            for _ in range(KILL_ROUNDS):
                time.sleep(0.5)
                killed += _kill_connections(server.database_url)
        finally:
            server.process.send_signal(signal.SIGTERM)
            stop_sending.set()
            sender.join()

    try:
        code = server.process.wait(timeout=STOP_LIMIT_SECONDS)
    except subprocess.TimeoutExpired:
        pytest.fail(f"no exit {STOP_LIMIT_SECONDS} s after SIGTERM:\n{server.log()}")
    assert killed > 0
    assert code == 0, server.log()
