"""The one source of 'now', so tests and the end-to-end stack can move time forward
(in-process, or shared through FENXIAO_CLOCK_FILE; never in production).
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

CLOCK_FILE_VARIABLE = "FENXIAO_CLOCK_FILE"
CLOCK_FILE_REREAD_SECONDS = 0.2

_offset = timedelta(0)


# Cached so `now()` costs one monotonic read on the hot paths (every visit asks the time).
class _SharedOffset:
    """The offset in the clock file, re-read only every CLOCK_FILE_REREAD_SECONDS."""

    def __init__(self) -> None:
        self._value = timedelta(0)
        self._read_at = float("-inf")

    def current(self) -> timedelta:
        moment = time.monotonic()
        if moment - self._read_at >= CLOCK_FILE_REREAD_SECONDS:
            path = os.environ.get(CLOCK_FILE_VARIABLE)
            self._value = read_clock_file(path) if path else timedelta(0)
            self._read_at = moment
        return self._value

    def forget(self) -> None:
        self._read_at = float("-inf")


_shared = _SharedOffset()


def read_clock_file(path: str | os.PathLike[str]) -> timedelta:
    """The offset a clock file holds; a malformed file is an error, not a silent 0."""
    try:
        text = Path(path).read_text().strip()
    except FileNotFoundError:
        return timedelta(0)
    if not text:
        return timedelta(0)
    try:
        return timedelta(seconds=float(text))
    except ValueError as exc:
        message = f"{CLOCK_FILE_VARIABLE} {path}: not a number of seconds: {text!r}"
        raise ValueError(message) from exc


def write_clock_file(path: str | os.PathLike[str], offset: timedelta) -> None:
    """Replace the offset atomically, so a reader never sees a half-written number."""
    target = Path(path)
    temporary = target.with_name(f".{target.name}.{os.getpid()}")
    temporary.write_text(f"{offset.total_seconds():.6f}\n")
    os.replace(temporary, target)


def now() -> datetime:
    return datetime.now(UTC) + (_offset + _shared.current())


def advance(delta: timedelta) -> None:
    """Move this process's clock forward (tests only)."""
    global _offset
    _offset += delta


def reset() -> None:
    global _offset
    _offset = timedelta(0)
    _shared.forget()
