"""The Sanic main process's stop signal handler only records the signal; the manager acts on
it between its own steps, once (server/clean_stop.py)."""

from __future__ import annotations

import multiprocessing
import signal
import time
from typing import Any

import pytest
import sanic
from sanic.exceptions import ServerError
from sanic.worker.constants import ProcessState
from sanic.worker.manager import MonitorCycle, WorkerManager

from server import clean_stop


class _SharedStateOverTheWire:
    """Sanic's worker state: a proxy to the manager process, unsafe to use from a handler."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the signal handler used the shared worker state ({name})")

    def __getitem__(self, key: str) -> Any:
        raise AssertionError("the signal handler used the shared worker state")


class _Manager:
    def __init__(self) -> None:
        self._shutting_down = False
        self.worker_state = _SharedStateOverTheWire()
        self.shutdowns = 0

    def shutdown(self) -> None:
        self.shutdowns += 1
        self._shutting_down = True


@pytest.fixture
def hooks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clean_stop, "_received", [])
    clean_stop.install_clean_stop()


def test_the_hooks_are_for_the_installed_sanic_release() -> None:
    # They wrap private methods: a new Sanic release must be read again before it is pinned.
    assert sanic.__version__ == clean_stop.PATCHED_SANIC_VERSION


def test_the_signal_handler_only_records_the_stop(hooks: None) -> None:
    manager = _Manager()

    WorkerManager.shutdown_signal(manager, signal.SIGTERM, None)  # type: ignore[arg-type]

    assert manager.shutdowns == 0
    assert clean_stop.stop_requested()


def test_the_manager_shuts_down_once_between_its_own_steps(hooks: None) -> None:
    manager = _Manager()
    WorkerManager.shutdown_signal(manager, signal.SIGINT, None)  # type: ignore[arg-type]

    # While waiting for the workers' start-up acknowledgements, then while monitoring them.
    assert WorkerManager._all_workers_ack(manager) is True  # type: ignore[arg-type]
    assert WorkerManager._poll_monitor(manager) is MonitorCycle.BREAK  # type: ignore[arg-type]
    assert manager.shutdowns == 1


def test_no_worker_is_started_once_a_stop_was_requested(hooks: None) -> None:
    manager = _Manager()
    WorkerManager.shutdown_signal(manager, signal.SIGTERM, None)  # type: ignore[arg-type]

    WorkerManager.start(manager)  # type: ignore[arg-type]  # would fail: _Manager has no workers


def _cannot_start() -> None:
    # What Sanic.serve raises when its manager process died while starting.
    raise ServerError("Sanic server could not start: worker process failed.", quiet=True)


def test_a_start_cut_short_by_a_stop_signal_is_a_clean_stop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(clean_stop, "_received", [])

    def stopped_while_starting() -> None:
        clean_stop._remember(signal.SIGINT, None)
        _cannot_start()

    assert clean_stop.serve_unless_stopped(stopped_while_starting) is False


def test_a_failed_start_without_a_stop_signal_is_still_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(clean_stop, "_received", [])

    with pytest.raises(ServerError):
        clean_stop.serve_unless_stopped(_cannot_start)


def test_a_stop_before_serving_never_starts_sanic(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clean_stop, "_received", [signal.SIGTERM])
    started: list[bool] = []

    assert clean_stop.serve_unless_stopped(lambda: started.append(True)) is False
    assert started == []


class _StoppingWorker:
    """A worker process the manager's shutdown has marked TERMINATED, still running."""

    def __init__(self) -> None:
        self._current_process = multiprocessing.get_context("spawn").Process(
            target=time.sleep, args=(1.5,)
        )
        self._current_process.start()
        self.pid = self._current_process.pid
        self.state = ProcessState.TERMINATED


def test_the_manager_waits_for_workers_its_shutdown_marked_terminated(hooks: None) -> None:
    # Sanic's join skipped them, and shut the shared state down while they still started.
    worker = _StoppingWorker()
    manager = _Manager()
    manager.processes = [worker]  # type: ignore[attr-defined]

    WorkerManager.join(manager)  # type: ignore[arg-type]

    assert not worker._current_process.is_alive()
