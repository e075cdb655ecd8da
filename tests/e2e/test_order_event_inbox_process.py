"""The real server drains what it accepted with `Prefer: respond-async`: the store gets 202s,
then reads each event's outcome; a server stopped right after accepting keeps every accepted
event on disk, none left claimed."""

from __future__ import annotations

import json
import signal
import sqlite3
import time
from urllib.parse import urlsplit

import httpx

from tests.e2e.test_server_process import (  # noqa: F401  (the fixture)
    RunningServer,
    _ok,
    root_program,
    server,
)
from tests.migrated_databases import mysql_connection
from tests.order_builders import line, paid, refunded
from tests.s2s_client import sign_request

EVENTS = "/admin/v1/s2s/events"
DRAIN_DEADLINE_SECONDS = 60


def _store_key(http: httpx.Client) -> tuple[int, str, str]:
    staff, program = root_program(http, "Inbox shop")
    key = _ok(
        http.post(
            f"/admin/v1/programs/{program['id']}/api-keys", headers=staff, json={"name": "store"}
        ),
        201,
    )
    return program["id"], key["key_id"], key["secret"]


def _send(http: httpx.Client, key_id: str, secret: str, body: dict, **extra: str) -> httpx.Response:
    raw = json.dumps(body, separators=(",", ":")).encode()
    headers = sign_request(key_id=key_id, secret=secret, method="POST", path=EVENTS, body=raw)
    return http.post(
        EVENTS, content=raw, headers={**headers, "content-type": "application/json", **extra}
    )


def _status(http: httpx.Client, key_id: str, secret: str, event_id: str) -> dict:
    path = f"{EVENTS}/{event_id}"
    headers = sign_request(key_id=key_id, secret=secret, method="GET", path=path, body=b"")
    return _ok(http.get(path, headers=headers))


def _inbox_statuses(database_url: str) -> dict[str, str]:
    query = "SELECT event_id, status FROM order_event_inbox"
    if database_url.startswith("sqlite"):
        with sqlite3.connect(urlsplit(database_url).path) as db:
            return dict(db.execute(query).fetchall())
    with mysql_connection(urlsplit(database_url).path.lstrip("/")) as db, db.cursor() as cursor:
        cursor.execute(query)
        return dict(cursor.fetchall())


def test_accepted_events_are_applied_by_the_servers_drainer(
    server: RunningServer,  # noqa: F811
) -> None:
    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        _program_id, key_id, secret = _store_key(http)
        bodies = [
            paid(f"IN-{n}", line("A", "50.00"), buyer_external_id=f"c-{n}") for n in range(20)
        ]
        bodies += [refunded(f"IN-{n}", full=True) for n in range(5)]
        for body in bodies:
            answer = _send(http, key_id, secret, body, Prefer="respond-async")
            assert answer.status_code == 202, answer.text

        deadline = time.monotonic() + DRAIN_DEADLINE_SECONDS
        pending = {body["event_id"] for body in bodies}
        outcomes: dict[str, dict] = {}
        while pending:
            for event_id in sorted(pending):
                status = _status(http, key_id, secret, event_id)
                if status["state"] == "processed":
                    outcomes[event_id] = status
                    pending.discard(event_id)
            assert time.monotonic() < deadline, f"still not applied: {pending}\n{server.log()}"
            time.sleep(0.2)

    assert {status["status_code"] for status in outcomes.values()} == {200}
    refunds = [outcomes[body["event_id"]]["outcome"] for body in bodies[20:]]
    assert {refund["type"] for refund in refunds} == {"order.refunded"}
    assert set(_inbox_statuses(server.database_url).values()) == {"done"}


def test_a_server_stopped_after_accepting_keeps_every_accepted_event(
    server: RunningServer,  # noqa: F811
) -> None:
    accepted: list[str] = []
    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        _program_id, key_id, secret = _store_key(http)
        for n in range(60):
            body = paid(f"ST-{n}", line("A", "20.00"), buyer_external_id=f"s-{n}")
            answer = _send(http, key_id, secret, body, Prefer="respond-async")
            assert answer.status_code == 202, answer.text
            accepted.append(body["event_id"])
    server.process.send_signal(signal.SIGTERM)
    server.process.wait(timeout=30)

    inbox = _inbox_statuses(server.database_url)
    assert set(accepted) <= set(inbox), "an accepted event is missing from the inbox"
    # Applied, or back in the queue for the next drainer: none left claimed by a dead one.
    assert set(inbox.values()) <= {"done", "queued"}, inbox
