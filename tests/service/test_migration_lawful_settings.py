"""Upgrading removes, from stored programs, an entry fee (《禁止传销条例》第七条) and WeChat
withdrawals in a currency WeChat transfers do not pay in; each program changed is logged and
audited. Runs on SQLite and (in the MariaDB pass) on MariaDB."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.migrated_databases import copy_migrated
from tests.service.test_migration_lawful_levels import _columns, _database, _migrate, _query
from tests.service.test_migration_upgrade import _filler

BEFORE = "0015_withdrawal_deductions"
# id -> (currency, requirements, withdrawal_rules) as stored before the upgrade
PROGRAMS: dict[int, tuple[str, dict[str, Any], dict[str, Any]]] = {
    1: ("CNY", {"real_name": True, "deposit": "99.00"}, {"methods": ["wechat"]}),
    2: ("CNY", {"deposit": "0.00"}, {"methods": ["wechat", "bank"]}),
    3: ("JPY", {}, {"minimum": "100", "methods": ["wechat", "bank"]}),
    4: ("USD", {"phone": True}, {}),
    5: ("JPY", {}, {"methods": ["offline"]}),
}


def _insert(conn: Any, columns: list[tuple[str, str]]) -> None:
    for program_id, (currency, requirements, rules) in PROGRAMS.items():
        row = {name: _filler(kind) for name, kind in columns}
        row.update(
            id=program_id,
            currency=currency,
            requirements=json.dumps(requirements),
            withdrawal_rules=json.dumps(rules),
            level_rates=json.dumps(["10"]),
        )
        names, marks = ", ".join(row), ", ".join("?" for _ in row)
        _query(conn, f"INSERT INTO programs ({names}) VALUES ({marks})", list(row.values()))


def test_entry_fees_and_wechat_outside_cny_are_removed_and_each_program_reported(
    tmp_path: Path,
) -> None:
    with _database(tmp_path) as (url, connect):
        copy_migrated(url, target=BEFORE)
        with connect() as conn:
            _insert(conn, _columns(conn))

        output = _migrate(url)

        with connect() as conn:
            stored = {
                int(pid): (json.loads(requirements), json.loads(rules).get("methods"))
                for pid, requirements, rules in _query(
                    conn, "SELECT id, requirements, withdrawal_rules FROM programs ORDER BY id"
                )
            }
            audit = _query(
                conn,
                "SELECT target_id, action, details FROM audit_log ORDER BY target_id, action",
            )
    assert stored == {
        1: ({"real_name": True}, ["wechat"]),
        2: ({}, ["wechat", "bank"]),
        3: ({}, ["bank"]),
        4: ({"phone": True}, ["offline"]),
        5: ({}, ["offline"]),
    }
    assert [(int(target), action) for target, action, _ in audit] == [
        (1, "program.entry_fee_removed"),
        (3, "program.wechat_withdrawals_removed"),
        (4, "program.wechat_withdrawals_removed"),
    ]
    fee = json.loads(audit[0][2])["changes"]["requirements"]
    assert fee["before"] == {"real_name": True, "deposit": "99.00"}
    assert "program 1 asked applicants for an entry fee {'deposit': '99.00'}" in output
    assert "program 3 pays in JPY, which WeChat transfers do not: methods now ['bank']" in output
    assert "program 2 " not in output and "program 5 " not in output
