"""Sanic workers are separate processes: a scrape of one must add up the samples of all."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests.migrated_databases import run_command

pytestmark = pytest.mark.e2e


RECORD = """
from server.metrics import count_job_run, observe_request
count_job_run("settle_due_commissions", "succeeded")
observe_request(method="GET", route="/readyz", status=200, seconds=0.01)
"""
SCRAPE = """
import asyncio
from server.metrics import render_metrics
print(asyncio.run(render_metrics()).decode())
"""


def _python(code: str, directory: Path) -> str:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    return run_command([sys.executable, "-c", code], env).stdout


def test_a_scrape_adds_up_the_counters_of_every_worker_process(tmp_path: Path) -> None:
    for _ in range(3):
        _python(RECORD, tmp_path)
    exposition = _python(SCRAPE, tmp_path)
    assert (
        'fenxiao_job_runs_total{name="settle_due_commissions",status="succeeded"} 3.0' in exposition
    )
    assert (
        'fenxiao_http_requests_total{method="GET",route="/readyz",status="200"} 3.0' in exposition
    )


def test_a_new_server_run_forgets_the_samples_of_processes_that_are_gone(tmp_path: Path) -> None:
    from server.metrics import prune_dead_process_files

    _python(RECORD, tmp_path)
    gone = sorted(p.name for p in tmp_path.glob("*.db"))
    assert gone, "the recording process wrote no sample files"
    alive = tmp_path / f"counter_{os.getpid()}.db"
    alive.write_bytes(b"")

    assert prune_dead_process_files(str(tmp_path)) == len(gone)
    assert [p.name for p in tmp_path.glob("*.db")] == [alive.name]
