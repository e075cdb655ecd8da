"""The one source of 'now', so tests and the end-to-end stack can move time forward.

Two offsets are added to the wall clock:

- an in-process one (`advance`, `reset`), for tests running the code in their own process;
- a shared one, for tests driving several processes (the Sanic workers, the Celery worker
  and beat of `deploy/stack.py`): when `FENXIAO_CLOCK_FILE` names a file, that file holds
  an offset in seconds (a decimal number; a missing or empty file means 0) which every
  process adds. It (and the variable) is re-read at most every CLOCK_FILE_REREAD_SECONDS,
  so a change reaches every process within that time and `now()` stays cheap. Production
  never sets it: `Settings.from_env` refuses it there unless FENXIAO_ALLOW_CLOCK_FILE=1
  says the production-shaped stack is a test bed.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

CLOCK_FILE_VARIABLE = "FENXIAO_CLOCK_FILE"
CLOCK_FILE_REREAD_SECONDS = 0.2

_offset = timedelta(0)


class _SharedOffset:
    """The offset in the clock file, cached for CLOCK_FILE_REREAD_SECONDS: the variable and
    the file are read again only then (or after `forget`), so `now()` costs one monotonic
    read on the hot paths (every visit asks for the time)."""

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
