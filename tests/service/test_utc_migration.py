"""Upgrading a database written before times were stored in UTC: what was stored in another
offset becomes the instant it named (server/migrations/0007_utc_instants.py). SQLite kept the
offset in the text; MariaDB dropped it, and the store's own times come back from the recorded
events and the audit log."""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from tests.conftest import BACKEND, _mysql_admin, _mysql_url_for
from tests.migrated_databases import copy_migrated
from tests.service.test_migration_upgrade import _fill_mysql, _fill_sqlite, _migrate, _mysql

BEFORE_UTC = "0006_order_auto_completion"
PAID = {
    "occurred_at": "2026-03-01T17:40:05+08:00",
    "order": {"placed_at": "2026-03-01T17:40:00+08:00"},
}
COMPLETED = {"occurred_at": "…", "order": {"completed_at": "2026-03-05T07:00:00+08:00"}}
RULE = {"after": {"valid_from": "2026-02-28T16:00:00+00:00", "valid_to": None}}


def _old_rows(execute: Callable[[str, list[Any]], None], marker: str, stored: Any) -> None:
    """One order paid at 17:40 and completed at 07:00 Beijing time, its commission frozen
    7 days, and a rule valid from Beijing midnight, as the old code stored them."""
    m = marker
    execute(
        f"UPDATE orders SET program_id = 1, external_id = 'SO-1', placed_at = {m},"
        f" paid_at = {m}, completed_at = {m}, created_at = {m} WHERE id = 1",
        [
            stored("2026-03-01 17:40:00", "+08:00"),
            stored("2026-03-01 17:40:05", "+08:00"),
            stored("2026-03-05 07:00:00", "+08:00"),
            stored("2026-03-01 09:40:01", "+00:00"),
        ],
    )
    execute(
        f"UPDATE commissions SET order_id = 1, unlock_at = {m} WHERE id = 1",
        [stored("2026-03-12 07:00:00", "+08:00")],
    )
    execute(
        f"UPDATE commission_rules SET valid_from = {m}, valid_to = NULL WHERE id = 1",
        [stored("2026-03-01 00:00:00", "+08:00")],
    )
    execute(
        "UPDATE audit_log SET target_kind = 'commission_rule', target_id = 1,"
        f" action = 'commission_rule.create', details = {m} WHERE id = 1",
        [json.dumps(RULE)],
    )
    event = (
        f"UPDATE order_events SET program_id = 1, order_external_id = 'SO-1', event_id = {m},"
        f" event_type = {m}, status = 'applied', payload = {m} WHERE id = {m}"
    )
    execute(event, ["evt-paid", "order.paid", json.dumps(PAID), 1])
    execute("CREATE TEMPORARY TABLE spare AS SELECT * FROM order_events", [])
    execute("UPDATE spare SET id = 2, event_id = 'evt-done'", [])
    execute("INSERT INTO order_events SELECT * FROM spare", [])
    execute(event, ["evt-done", "order.completed", json.dumps(COMPLETED), 2])


def _read(query: Callable[[str], Any]) -> dict[str, datetime]:
    order = query("SELECT placed_at, paid_at, completed_at, created_at FROM orders WHERE id = 1")
    unlock = query("SELECT unlock_at FROM commissions WHERE id = 1")
    rule = query("SELECT valid_from FROM commission_rules WHERE id = 1")
    values = [*order, *unlock, *rule]
    names = ("placed_at", "paid_at", "completed_at", "created_at", "unlock_at", "valid_from")
    return {
        name: (v if isinstance(v, datetime) else datetime.fromisoformat(v)).replace(tzinfo=None)
        for name, v in zip(names, values, strict=True)
    }


EXPECTED_UTC = {
    "placed_at": datetime(2026, 3, 1, 9, 40),
    "paid_at": datetime(2026, 3, 1, 9, 40, 5),
    "completed_at": datetime(2026, 3, 4, 23, 0),
    "created_at": datetime(2026, 3, 1, 9, 40, 1),
    "unlock_at": datetime(2026, 3, 11, 23, 0),
    "valid_from": datetime(2026, 2, 28, 16, 0),
}


@contextmanager
def _sqlite(path: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(path)
    try:
        yield conn
        conn.commit()
    finally:
        conn.close()


async def test_upgrading_stores_every_time_sent_with_an_offset_as_its_utc_instant(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Upgrades seal personal numbers (0025), which needs a lasting key.
    monkeypatch.setenv("S2S_KEY_ENCRYPTION_KEY", Fernet.generate_key().decode())
    if BACKEND == "mysql":
        name = f"fenxiao_u_{secrets.token_hex(6)}"
        await _mysql_admin(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        try:
            copy_migrated(_mysql_url_for(name), target=BEFORE_UTC)
            _fill_mysql(name)
            with _mysql(name) as conn, conn.cursor() as cur:
                # MariaDB kept the wall time and dropped the offset.
                cur.execute("SET FOREIGN_KEY_CHECKS = 0")
                _old_rows(lambda sql, values: cur.execute(sql, values), "%s", lambda t, _o: t)
            _migrate(_mysql_url_for(name))
            with _mysql(name) as conn, conn.cursor() as cur:

                def query(sql: str) -> Any:
                    cur.execute(sql)
                    return cur.fetchone()

                found = _read(query)
        finally:
            await _mysql_admin(f"DROP DATABASE IF EXISTS `{name}`")
    else:
        path = tmp_path / "upgraded.sqlite3"
        copy_migrated(f"sqlite://{path}", target=BEFORE_UTC)
        _fill_sqlite(path)
        with _sqlite(path) as conn:
            # SQLite kept the text with its offset.
            _old_rows(lambda sql, values: conn.execute(sql, values), "?", lambda t, o: t + o)
        _migrate(f"sqlite://{path}")
        with _sqlite(path) as conn:
            found = _read(lambda sql: conn.execute(sql).fetchone())
            stored = conn.execute("SELECT placed_at FROM orders WHERE id = 1").fetchone()[0]
        assert stored == "2026-03-01 09:40:00+00:00"
    assert found == EXPECTED_UTC
