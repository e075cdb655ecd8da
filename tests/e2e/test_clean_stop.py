"""The server always stops cleanly: 30 start/stop cycles of the real server (2 workers) with
clients sending requests, SIGINT or SIGTERM to the main process or to its whole process group,
at once after start, while the workers start, and while they serve: every stop exits 0."""

from __future__ import annotations

import contextlib
import os
import random
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import BACKEND, TEST_JWT_SECRET, _mysql_url_for
from tests.e2e.test_server_process import (
    ROOT,
    _free_port,
    _mysql_admin_sync,
    migrate,
    server_environment,
)

pytestmark = pytest.mark.e2e

CYCLES = 30
CLIENTS = 2
# Hang guards only (a stop taking this long is the failure): what systemd's unit allows
# (deploy/systemd/fenxiao-web.service TimeoutStopSec), and a start on a loaded machine.
STOP_LIMIT_SECONDS = 30
START_LIMIT_SECONDS = 180
# The moments a stop is sent, in turn: as soon as the main process handles stop signals,
# a random moment while the workers start, and once the workers answer the clients.
AT_ONCE, STARTING, SERVING = "at once", "starting", "serving"
MOMENTS = (AT_ONCE, STARTING, AT_ONCE, STARTING, SERVING)
ANSWERED_BEFORE_STOP = 20
# An exception line (tracebacks print it unindented, its class dotted or not) or a log
# record at ERROR; a process stopped while it is still importing prints KeyboardInterrupt,
# Python's own way to stop.
FAILURE_LINE = re.compile(r"^[\w.]*(Error|Exception)\b|\bERROR\b", re.MULTILINE)


@dataclass
class Cycle:
    moment: str
    signum: signal.Signals
    whole_group: bool


def _cycles() -> list[Cycle]:
    chooser = random.Random(17)
    return [
        Cycle(
            moment=MOMENTS[n % len(MOMENTS)],
            signum=(signal.SIGINT, signal.SIGTERM)[n % 2],
            whole_group=chooser.random() < 0.5,
        )
        for n in range(CYCLES)
    ]


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    if BACKEND != "mysql":
        yield f"sqlite://{tmp_path / 'stops.sqlite3'}"
        return
    database = f"fenxiao_s_{secrets.token_hex(6)}"
    _mysql_admin_sync(f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4")
    try:
        yield _mysql_url_for(database)
    finally:
        _mysql_admin_sync(f"DROP DATABASE IF EXISTS `{database}`")


class Clients:
    """Threads sending requests to whichever port is current, counting the answers."""

    def __init__(self) -> None:
        self.base_url = ""
        self.statuses: Counter[int] = Counter()
        self._done = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(n,)) for n in range(CLIENTS)]

    def __enter__(self) -> Clients:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._done.set()
        for thread in self._threads:
            thread.join()

    def _run(self, client: int) -> None:
        paths = ("/healthz", "/readyz", "/metrics")
        with httpx.Client(timeout=5) as http:
            for n in range(10**9):
                if self._done.is_set():
                    return
                base_url = self.base_url
                try:
                    if n % 2:
                        response = http.post(
                            f"{base_url}/mp/v1/visits",
                            json={"short_code": "nosuchcode", "visitor_id": f"c{client}-{n}"},
                        )
                    else:
                        response = http.get(f"{base_url}{paths[n % len(paths)]}")
                except httpx.HTTPError:
                    self._done.wait(0.02)  # not listening (yet, or any more)
                    continue
                self.statuses[response.status_code] += 1


def _handles_stop_signals(pid: int) -> bool:
    """The process has its own SIGTERM handler (Linux: SigCgt in /proc/<pid>/status)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    caught = int(re.search(r"^SigCgt:\s*([0-9a-f]+)", status, re.MULTILINE)[1], 16)
    return bool(caught & (1 << (signal.SIGTERM - 1)))


def _wait_until(condition: object, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + START_LIMIT_SECONDS
    while not condition():  # type: ignore[operator]
        assert process.poll() is None, f"the server exited before {what}"
        assert time.monotonic() < deadline, f"never {what}"
        time.sleep(0.01)


def _run_cycle(
    n: int, cycle: Cycle, env: dict[str, str], clients: Clients, chooser: random.Random
) -> tuple[str | None, bool]:
    """Start, stop as `cycle` says; what went wrong (None: nothing) and whether it served."""
    port = _free_port()
    log_path = Path(env["QR_CACHE_DIR"]).parent / f"server-{n}.log"
    with log_path.open("wb") as log:
        # Its own process group: a signal to the group reaches only what this test started.
        process = subprocess.Popen(
            [sys.executable, "-m", "server.cli", "serve"],
            cwd=ROOT,
            env={**env, "PORT": str(port), "WECHAT_STANDIN_PORT": str(_free_port())},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    code: int | str = "no exit (hang)"
    try:
        clients.base_url = f"http://127.0.0.1:{port}"
        _wait_until(lambda: _handles_stop_signals(process.pid), process, "took signals")
        answered = clients.statuses.total()
        if cycle.moment == STARTING:
            time.sleep(chooser.uniform(0, 3))
        elif cycle.moment == SERVING:
            _wait_until(
                lambda: clients.statuses.total() >= answered + ANSWERED_BEFORE_STOP,
                process,
                "answered the clients",
            )
        served = clients.statuses.total() > answered
        send = os.killpg if cycle.whole_group else os.kill
        send(process.pid, cycle.signum)
        with contextlib.suppress(subprocess.TimeoutExpired):
            code = process.wait(timeout=STOP_LIMIT_SECONDS)
    finally:
        # Whatever it left behind (nothing, when it stopped cleanly).
        _kill_group(process.pid)
        process.wait()
    log_text = log_path.read_text(errors="replace")
    failure = FAILURE_LINE.search(log_text)
    if code == 0 and not failure:
        return None, served
    found = f", {failure[0]}" if failure else ""
    return f"cycle {n} ({cycle}): exit {code}{found}\n{log_text[-3000:]}", served


def test_every_stop_exits_0_at_once_while_starting_and_while_serving(
    database_url: str, tmp_path: Path
) -> None:
    env = {
        **server_environment(database_url, tmp_path),
        "VISITOR_HASH_SALT": TEST_JWT_SECRET,
        "WORKERS": "2",
    }
    migrate(env)
    chooser = random.Random(29)
    failures: list[str] = []
    served = 0
    with Clients() as clients:
        for n, cycle in enumerate(_cycles()):
            failure, answered = _run_cycle(n, cycle, env, clients, chooser)
            served += answered
            if failure:
                failures.append(failure)

    assert not failures, "\n\n".join(failures)
    assert served >= CYCLES // len(MOMENTS), "too few stops came while requests were answered"
    assert clients.statuses[500] == 0, clients.statuses


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
