"""The main process stops cleanly on SIGINT/SIGTERM at any moment: the signal handler only
records the request and Sanic's worker manager acts on it from its own loop
(docs/design/platform.md#stopping-the-server).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
from collections.abc import Callable
from functools import partial, wraps
from multiprocessing.managers import SyncManager
from types import FrameType
from typing import Any

log = logging.getLogger("fenxiao.stop")

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# SANIC_WORKER_NAME of Sanic's server worker processes (sanic/worker/serve.py).
SERVER_WORKER_PREFIX = "Sanic-Server"
# Checked by a unit test: the hooks below wrap private methods of this release's manager.
PATCHED_SANIC_VERSION = "25.12.1"

# Signals received and not acted on yet (list.append is atomic: safe in a signal handler).
_received: list[int] = []


def _remember(signum: int, frame: FrameType | None) -> None:
    _received.append(signum)


def stop_requested() -> bool:
    """A stop signal arrived."""
    return bool(_received)


def catch_stop_signals() -> None:
    """From now on SIGINT/SIGTERM are remembered instead of killing the process."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, _remember)


def serve_unless_stopped(serve: Callable[[], None]) -> bool:
    """Run Sanic's serve unless a stop came first; False if it never served."""
    from sanic.exceptions import ServerError

    if stop_requested():
        return False
    try:
        serve()
    except ServerError:
        # A stop sent to the whole process group (Ctrl-C, systemd) while Sanic's manager
        # process was still importing, before its initializer ignores stop signals, ends it
        # with KeyboardInterrupt, and Sanic then reports that it could not start. Nothing was
        # served yet: that is the stop asked for, not a failure.
        if not stop_requested():
            raise
        log.info("stopped while starting")
        return False
    return True


def _ignore_stop_signals() -> None:
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)


def _signal_proof_manager() -> SyncManager:
    # Sanic's shared worker state lives in a multiprocessing manager process. A SIGTERM sent
    # to the whole process group (systemd's default KillMode) would kill it before the main
    # process is done with it; the main process shuts it down itself at the end.
    manager = SyncManager(ctx=multiprocessing.get_context())
    manager.start(initializer=_ignore_stop_signals)
    return manager


def _act_on_stop(manager: Any) -> bool:
    """Begin the shutdown once, from the manager's loop; True if a stop was requested."""
    if not _received:
        return False
    if not manager._shutting_down:
        log.info("received %s: shutting down", signal.Signals(_received[0]).name)
        manager.shutdown()
    return True


def install_clean_stop() -> None:
    """Make Sanic's worker manager act on stop signals only between its own steps."""
    import sanic
    from sanic.mixins import startup
    from sanic.worker.manager import MonitorCycle, WorkerManager

    if sanic.__version__ != PATCHED_SANIC_VERSION:
        log.warning(
            "clean stop hooks written for sanic %s, running %s",
            PATCHED_SANIC_VERSION,
            sanic.__version__,
        )
    if getattr(WorkerManager, "_fenxiao_clean_stop", False):
        return
    original_signal = WorkerManager.shutdown_signal
    original_start = WorkerManager.start
    original_all_acked = WorkerManager._all_workers_ack
    original_poll = WorkerManager._poll_monitor
    original_join = WorkerManager.join

    # Sanic's handler shut down at once, talking to the manager process over the connection
    # the interrupted code may be using: the interrupted call then read the handler's reply
    # (`'NoneType' object has no attribute 'get'` in _sync_states), and a signal during
    # start-up left wait_for_ack bouncing its None message forever (sanic-org/sanic#2997).
    def shutdown_signal(self: Any, signum: int, frame: FrameType | None) -> None:
        if self._shutting_down:
            # A second signal during the shutdown: Sanic's kill, which only sends signals.
            original_signal(self, signum, frame)
            return
        _remember(signum, frame)

    def start(self: Any) -> None:
        if not stop_requested():
            original_start(self)

    def _all_workers_ack(self: Any) -> bool:
        return _act_on_stop(self) or original_all_acked(self)

    def _poll_monitor(self: Any) -> Any:
        if _act_on_stop(self):
            return MonitorCycle.BREAK
        return original_poll(self)

    # Sanic's join skips the workers its shutdown marked TERMINATED, and then gives each 10 s
    # before it shuts the shared state down under them: a worker still starting when the stop
    # came (its ack then failed with FileNotFoundError) kept the main process waiting on it
    # at exit, past systemd's stop timeout. The main process waits for every worker to end.
    def join(self: Any) -> None:
        original_join(self)
        for process in self.processes:
            process._current_process.join()

    for name, hook in (
        ("shutdown_signal", shutdown_signal),
        ("start", start),
        ("_all_workers_ack", _all_workers_ack),
        ("_poll_monitor", _poll_monitor),
        ("join", join),
    ):
        setattr(WorkerManager, name, _wrapping(getattr(WorkerManager, name), hook))
    WorkerManager._fenxiao_clean_stop = True
    startup.Manager = _signal_proof_manager


def _wrapping(original: Callable[..., Any], hook: Callable[..., Any]) -> Callable[..., Any]:
    return wraps(original)(hook)


def install_worker_clean_stop() -> None:
    """In a server worker: a stop signal during start-up stops it as soon as it serves."""
    if not os.environ.get("SANIC_WORKER_NAME", "").startswith(SERVER_WORKER_PREFIX):
        return
    from sanic.server import runners

    catch_stop_signals()
    if getattr(runners, "_fenxiao_clean_stop", False):
        return
    run_forever = runners._run_server_forever
    handovers: list[Callable[[], Any]] = []

    # Sanic puts its loop handlers in place before the after_server_start listeners run, and
    # one calling app.stop() then stops the loop inside run_until_complete: the worker
    # crashes, or the stop is lost and it serves on; before that, a signal raised
    # KeyboardInterrupt inside a start-up listener. Until the loop runs for good a signal is
    # only remembered, and acted on then.
    def _setup_system_signals(
        app: Any, run_multiple: bool, register_sys_signals: bool, loop: Any
    ) -> None:
        handovers.append(partial(_hand_over_signals, app, register_sys_signals, loop))

    def _run_server_forever(
        loop: Any, before_stop: Any, after_stop: Any, cleanup: Any, *args: Any
    ) -> None:
        while handovers:
            handovers.pop(0)()
            if stop_requested():
                # Sent again from inside the running loop, to Sanic's own handler: uvloop
                # listens for signals only while it runs.
                loop.call_soon(os.kill, os.getpid(), _received[0])
        run_forever(loop, before_stop, after_stop, partial(_clean_up, cleanup), *args)

    runners._setup_system_signals = _wrapping(runners._setup_system_signals, _setup_system_signals)
    runners._run_server_forever = _wrapping(run_forever, _run_server_forever)
    runners._fenxiao_clean_stop = True


def _clean_up(cleanup: Callable[[], None]) -> None:
    # Under uvloop a loop stopped by a signal may fail the first run_until_complete after it
    # ("Event loop stopped before Future completed"); Sanic retries its shutdown listeners for
    # that but not the connection drain, which failed once in six stops under load and left
    # the worker to exit with a traceback, its after_server_stop listeners unrun.
    try:
        cleanup()
    except RuntimeError:
        log.info("connection drain interrupted by the loop stopping: draining again")
        cleanup()


def _hand_over_signals(app: Any, register_sys_signals: bool, loop: Any) -> Any:
    # What Sanic's _setup_system_signals does, without first ignoring the signals (one sent
    # meanwhile was lost): each replaces the recording handler at once.
    os.environ["SANIC_WORKER_PROCESS"] = "true"
    for signum in STOP_SIGNALS:
        if register_sys_signals:
            loop.add_signal_handler(signum, partial(app.stop, terminate=False))
        else:
            signal.signal(signum, signal.SIG_IGN)
    remove_handler = loop.remove_signal_handler

    # Once the loop stops Sanic removes its handlers, which made SIGINT raise
    # KeyboardInterrupt inside the shutdown listeners (e.g. systemd's SIGTERM to every
    # process, then the main process's SIGINT): a further signal is only remembered.
    def remove_signal_handler(signum: int) -> bool:
        removed = remove_handler(signum)
        if signum in STOP_SIGNALS:
            signal.signal(signum, _remember)
        return removed

    loop.remove_signal_handler = remove_signal_handler
    return app
