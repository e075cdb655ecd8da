"""The shared clock offset (FENXIAO_CLOCK_FILE) that moves every process of a test stack."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from server import clock
from server.config import ConfigError, Settings

PRODUCTION = {
    "FENXIAO_ENV": "production",
    "JWT_SECRET": "x" * 48,
    "VISITOR_HASH_SALT": "salt",
    "S2S_KEY_ENCRYPTION_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
}


class FakeMonotonic:
    def __init__(self) -> None:
        self.value = 1000.0

    def __call__(self) -> float:
        return self.value


@pytest.fixture
def monotonic(monkeypatch: pytest.MonkeyPatch) -> FakeMonotonic:
    fake = FakeMonotonic()
    monkeypatch.setattr(clock.time, "monotonic", fake)
    return fake


@pytest.fixture
def clock_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "clock-offset"
    monkeypatch.setenv(clock.CLOCK_FILE_VARIABLE, str(path))
    clock.reset()
    yield path
    clock.reset()


def _lead(moment: datetime) -> timedelta:
    """How far `moment` is ahead of the wall clock, to the second."""
    return timedelta(seconds=round((moment - datetime.now(UTC)).total_seconds()))


def test_without_a_clock_file_now_is_the_wall_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(clock.CLOCK_FILE_VARIABLE, raising=False)
    clock.reset()
    assert _lead(clock.now()) == timedelta(0)


def test_a_missing_or_empty_clock_file_means_no_offset(
    clock_file: Path, monotonic: FakeMonotonic
) -> None:
    assert _lead(clock.now()) == timedelta(0)
    clock_file.write_text("")
    monotonic.value += clock.CLOCK_FILE_REREAD_SECONDS
    assert _lead(clock.now()) == timedelta(0)


def test_the_offset_in_the_clock_file_moves_now_forward(
    clock_file: Path, monotonic: FakeMonotonic
) -> None:
    clock.write_clock_file(clock_file, timedelta(days=8))
    assert _lead(clock.now()) == timedelta(days=8)


def test_the_file_offset_adds_to_the_in_process_offset(
    clock_file: Path, monotonic: FakeMonotonic
) -> None:
    clock.write_clock_file(clock_file, timedelta(hours=1))
    clock.advance(timedelta(minutes=30))
    assert _lead(clock.now()) == timedelta(minutes=90)


def test_a_changed_offset_is_seen_once_the_reread_interval_has_passed(
    clock_file: Path, monotonic: FakeMonotonic
) -> None:
    clock.write_clock_file(clock_file, timedelta(days=1))
    assert _lead(clock.now()) == timedelta(days=1)
    clock.write_clock_file(clock_file, timedelta(days=2))
    assert _lead(clock.now()) == timedelta(days=1), "read again within the interval"
    monotonic.value += clock.CLOCK_FILE_REREAD_SECONDS
    assert _lead(clock.now()) == timedelta(days=2)


def test_an_offset_can_move_the_clock_back_to_the_wall_clock(
    clock_file: Path, monotonic: FakeMonotonic
) -> None:
    clock.write_clock_file(clock_file, timedelta(days=3))
    assert _lead(clock.now()) == timedelta(days=3)
    clock.write_clock_file(clock_file, timedelta(0))
    monotonic.value += clock.CLOCK_FILE_REREAD_SECONDS
    assert _lead(clock.now()) == timedelta(0)


def test_a_malformed_clock_file_is_an_error_not_a_silent_zero(
    clock_file: Path, monotonic: FakeMonotonic
) -> None:
    clock_file.write_text("eight days")
    with pytest.raises(ValueError, match="not a number of seconds"):
        clock.now()


def test_production_refuses_a_clock_file() -> None:
    with pytest.raises(ConfigError, match="FENXIAO_CLOCK_FILE"):
        Settings.from_env({**PRODUCTION, "FENXIAO_CLOCK_FILE": "/tmp/clock"})


def test_a_production_shaped_test_stack_may_allow_the_clock_file_explicitly() -> None:
    settings = Settings.from_env(
        {**PRODUCTION, "FENXIAO_CLOCK_FILE": "/tmp/clock", "FENXIAO_ALLOW_CLOCK_FILE": "1"}
    )
    assert settings.clock_file == "/tmp/clock"


def test_development_accepts_a_clock_file_without_the_escape() -> None:
    settings = Settings.from_env({"JWT_SECRET": "x" * 48, "FENXIAO_CLOCK_FILE": "/tmp/clock"})
    assert settings.clock_file == "/tmp/clock"
