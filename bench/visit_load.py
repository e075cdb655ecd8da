"""Processes and load for the visit benchmark: starting and stopping servers, wrk rounds with
the CPU the server spent on them, and a client that counts exactly what was accepted."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import os
import secrets
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

from bench.visit_report import WrkResult, parse_wrk

EXACT_DEADLINE_SECONDS = 120
STOP_DEADLINE_SECONDS = 90
FLUSH_SETTLE_SECONDS = 0.5
WECHAT_UA = "Mozilla/5.0 (iPhone) MicroMessenger/8.0.44 NetType/WIFI Language/zh_CN"


READY_DEADLINE_SECONDS = 300


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_ready(port: int, process: subprocess.Popen[bytes], log: Path, workers: int) -> None:
    """Until /healthz answers and every worker said it is ready (requests sent before would
    queue on a worker still starting and skew the first round)."""
    # Workers were seen taking 80 s to start on a 2-core machine shared with other runs.
    deadline = time.monotonic() + READY_DEADLINE_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log.read_text()[-3000:]}")
        try:
            healthy = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            healthy = False
        if healthy and log.read_text().count("Worker ready") >= workers:
            return
        time.sleep(0.3)
    raise RuntimeError(f"server not ready:\n{log.read_text()[-3000:]}")


def stop(process: subprocess.Popen[bytes]) -> float:
    """SIGTERM (a graceful shutdown) and wait; the seconds it took."""
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=STOP_DEADLINE_SECONDS)
    return time.monotonic() - started


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU seconds used so far by a process and its live descendants (/proc)."""
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                # After the ")" closing the command name: state, ppid, …, utime, stime.
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
        ticks[int(entry)] = int(fields[11]) + int(fields[12])
    tree = {root}
    grown = True
    while grown:
        children = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= children
        grown = bool(children)
    return sum(ticks.get(pid, 0) for pid in tree) / os.sysconf("SC_CLK_TCK")


def measured_round(
    process: subprocess.Popen[bytes], port: int, body: str, *, seconds: int, **wrk: Any
) -> WrkResult:
    """One wrk round, with the CPU the server's processes spent on it."""
    before = tree_cpu_seconds(process.pid)
    result = run_wrk(port, body, seconds=seconds, **wrk)
    # Let the last flush of buffered visits land in this round's account.
    time.sleep(FLUSH_SETTLE_SECONDS)
    return dataclasses.replace(result, server_cpu_seconds=tree_cpu_seconds(process.pid) - before)


def run_wrk(port: int, body: str, *, seconds: int, connections: int, script_dir: Path) -> WrkResult:
    script = script_dir / f"visit-{secrets.token_hex(3)}.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = '{body}'\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["User-Agent"] = "{WECHAT_UA}"\n'
    )
    threads = max(1, min(2, os.cpu_count() or 1))
    command = [
        "wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency",
        "-s", str(script), f"http://127.0.0.1:{port}/mp/v1/visits",
    ]  # fmt: skip
    out = subprocess.run(
        command, capture_output=True, text=True, check=True, timeout=seconds + 60
    ).stdout
    return parse_wrk(out)


async def send_exact(port: int, short_code: str, *, total: int, connections: int) -> int:
    """Send `total` visits over `connections` connections; the number answered 2xx."""
    accepted = 0
    queue = iter(range(total))
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    body = {"short_code": short_code, "utm_campaign": "exact"}
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=10
    ) as client:

        async def sender() -> None:
            nonlocal accepted
            for _ in queue:
                response = await client.post(
                    "/mp/v1/visits", json=body, headers={"user-agent": WECHAT_UA}
                )
                accepted += 200 <= response.status_code < 300

        await asyncio.wait_for(
            asyncio.gather(*(sender() for _ in range(connections))), EXACT_DEADLINE_SECONDS
        )
    return accepted


def server_env(
    url: str, port: int, workers: int, work: Path, key: str | None = None
) -> dict[str, str]:
    """The environment of the real server in production mode on `url`, its files in `work`."""
    return {
        **os.environ,
        "FENXIAO_ENV": "production",
        "DATABASE_URL": url,
        "WORKERS": str(workers),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "JWT_SECRET": secrets.token_urlsafe(48),
        "VISITOR_HASH_SALT": secrets.token_hex(16),
        "S2S_KEY_ENCRYPTION_KEY": key or base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        # Never called by these benchmarks; set so that no WeChat stand-in is started.
        "WECHAT_API_BASE": "http://127.0.0.1:9",
        # Nothing is paid out here: production's WeChat Pay settings are not needed.
        "WECHAT_PAY_API_VERSION": "none",
        "PROMETHEUS_MULTIPROC_DIR": str(work / "prometheus"),
    }
