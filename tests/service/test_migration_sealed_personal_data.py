"""Upgrading encrypts every stored plain tax id and bank account number (an empty one stays
empty), adds the account's keyed hash and hashes the request fingerprint. Runs on SQLite and
(in the MariaDB pass) on MariaDB."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from server.services.access import sealing
from server.services.access.sealing import (
    SEALED_PREFIX,
    cipher,
    keyed_hash,
    unseal,
)
from tests.migrated_databases import copy_migrated
from tests.service.test_migration_lawful_levels import BACKEND, _database, _migrate, _query
from tests.service.test_migration_upgrade import _filler

BEFORE = "0024_report_daily_rollups"
TAX_IDS = {1: "110101199001011234", 2: None}
ACCOUNT = "6222021234567890"
FINGERPRINT = f"amount=10.00&account_number={ACCOUNT}&method=bank"


def _columns(conn: Any, table: str) -> list[tuple[str, str]]:
    if BACKEND == "mysql":
        return [
            (str(name), str(kind))
            for name, kind in _query(
                conn,
                "SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS"
                " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
                [table],
            )
        ]
    return [(r[1], r[2]) for r in conn.execute(f'PRAGMA table_info("{table}")')]


def _insert(conn: Any, table: str, **values: Any) -> None:
    row = {name: _filler(kind) for name, kind in _columns(conn, table)}
    row.update(values)
    names, marks = ", ".join(row), ", ".join("?" for _ in row)
    _query(conn, f"INSERT INTO {table} ({names}) VALUES ({marks})", list(row.values()))


def test_upgrading_encrypts_every_stored_tax_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = Fernet.generate_key().decode()
    monkeypatch.setenv("S2S_KEY_ENCRYPTION_KEY", key)
    with _database(tmp_path) as (url, connect):
        copy_migrated(url, target=BEFORE)
        with connect() as conn:
            _insert(conn, "programs", id=1)
            for pid, tax_id in TAX_IDS.items():
                _insert(conn, "users", id=pid, openid=f"o{pid}")
                _insert(
                    conn,
                    "promoters",
                    id=pid,
                    program_id=1,
                    user_id=pid,
                    tax_id=tax_id,
                    invite_code=f"c{pid}",
                    parent_id=None,
                )
            _insert(
                conn,
                "withdrawals",
                id=1,
                promoter_id=1,
                account_number=ACCOUNT,
                request_fingerprint=FINGERPRINT,
                batch_id=None,
            )

        _migrate(url)

        with connect() as conn:
            stored = dict(_query(conn, "SELECT id, tax_id FROM promoters ORDER BY id"))
            [(number, number_hash, fingerprint)] = _query(
                conn,
                "SELECT account_number, account_number_hash, request_fingerprint FROM withdrawals",
            )
    assert stored[2] is None
    assert stored[1].startswith(SEALED_PREFIX) and "1101011990" not in stored[1]
    keys = cipher(key)
    assert keys.decrypt(stored[1][len(SEALED_PREFIX) :].encode()).decode() == TAX_IDS[1]
    assert ACCOUNT not in number and ACCOUNT not in fingerprint and ACCOUNT not in number_hash
    monkeypatch.setattr(sealing, "_configured", [key])  # the migration's key, for this test
    assert unseal(number) == ACCOUNT
    assert (number_hash, fingerprint) == (keyed_hash(ACCOUNT), keyed_hash(FINGERPRINT))


def test_upgrading_stored_numbers_without_a_lasting_key_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("S2S_KEY_ENCRYPTION_KEY", raising=False)
    with _database(tmp_path) as (url, connect):
        copy_migrated(url, target=BEFORE)
        with connect() as conn:
            _insert(conn, "programs", id=1)
            _insert(conn, "users", id=1, openid="o1")
            _insert(conn, "promoters", id=1, program_id=1, user_id=1, tax_id=TAX_IDS[1])

        # Development keeps the key it generates (var/dev-secrets.json); production makes none.
        monkeypatch.setenv("FENXIAO_ENV", "production")
        monkeypatch.setenv("JWT_SECRET", "production-" + "x" * 40)
        monkeypatch.setenv("VISITOR_HASH_SALT", "salt-" + "y" * 40)
        with pytest.raises(AssertionError, match="S2S_KEY_ENCRYPTION_KEY"):
            _migrate(url)

        with connect() as conn:
            assert _query(conn, "SELECT tax_id FROM promoters") == [(TAX_IDS[1],)]
