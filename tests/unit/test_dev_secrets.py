"""Development secrets outlive a restart: what one run encrypted, the next can read."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from server.cli import DEV_SECRET_NAMES, _prepare_environment


def _fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FENXIAO_ENV", raising=False)
    for name in DEV_SECRET_NAMES:
        monkeypatch.delenv(name, raising=False)


def test_a_restarted_development_server_gets_the_secrets_of_its_first_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = tmp_path / "var" / "dev-secrets.json"
    _fresh(monkeypatch)
    _prepare_environment(str(kept))
    first = {name: os.environ[name] for name in DEV_SECRET_NAMES}

    _fresh(monkeypatch)
    _prepare_environment(str(kept))

    assert {name: os.environ[name] for name in DEV_SECRET_NAMES} == first
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600


def test_a_secret_given_in_the_environment_wins_and_production_keeps_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = tmp_path / "dev-secrets.json"
    _fresh(monkeypatch)
    monkeypatch.setenv("JWT_SECRET", "given-" + "x" * 40)
    _prepare_environment(str(kept))
    assert os.environ["JWT_SECRET"] == "given-" + "x" * 40

    _fresh(monkeypatch)
    monkeypatch.setenv("FENXIAO_ENV", "production")
    _prepare_environment(str(tmp_path / "other.json"))
    assert not (tmp_path / "other.json").exists()
