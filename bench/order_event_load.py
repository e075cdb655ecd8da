"""The load side of bench/order_event_bench.py: signed requests written for wrk, wrk's rounds,
the servers' processes and MariaDB's CPU per benchmark connection.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from bench.order_event_report import (
    THREADS,
    WrkResult,
    parse_wrk,
)
from bench.order_event_setup import (
    PATH,
    Seed,
)
from bench.visit_load import tree_cpu_seconds

ROOT = Path(__file__).resolve().parents[1]
# Requests generated per second of a round: far above what either endpoint can answer.
REQUESTS_PER_SECOND_BUDGET = 6_000
SETTLE_SECONDS = 0.5
# Below this share of one core the server counts as idle (its timers, the metrics).
IDLE_CPU_SHARE = 0.05

LUA = """
local files = {%(files)s}
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("file", files[counter])
end
local queue = {}
local index = 0
function init(args)
  for line in io.lines(file) do
    local key, ts, nonce, sig, body =
      line:match("^([^\\t]*)\\t([^\\t]*)\\t([^\\t]*)\\t([^\\t]*)\\t(.*)$")
    queue[#queue + 1] = wrk.format("POST", "%(path)s", {
      ["Content-Type"] = "application/json",
      ["X-Fenxiao-Key"] = key, ["X-Fenxiao-Timestamp"] = ts,
      ["X-Fenxiao-Nonce"] = nonce, ["X-Fenxiao-Signature"] = sig,%(extra)s
    }, body)
  end
end
function request()
  index = index + 1
  if index > #queue then index = 1 end
  return queue[index]
end
"""


# ---------------------------------------------------------------- requests


def signed_line(seed: Seed, tag: str, index: int) -> str:
    """One order.paid, signed as a store would sign it (docs/integration.md, signing)."""
    now = datetime.now(UTC).isoformat()
    external_id = f"{tag}-{index}"
    body = json.dumps(
        {
            "event_id": f"evt-{external_id}",
            "type": "order.paid",
            "occurred_at": now,
            "order": {
                "external_id": external_id,
                "currency": "CNY",
                "placed_at": now,
                "buyer": {"openid": seed.buyer_openids[index % len(seed.buyer_openids)]},
                "lines": [
                    {"line_ref": "1", "product_id": "SKU-RULE", "quantity": 2,
                     "unit_price": "49.90", "amount": "99.80"},
                    {"line_ref": "2", "product_id": "SKU-2", "quantity": 1,
                     "unit_price": "128.00", "amount": "128.00"},
                ],
            },
        },
        separators=(",", ":"),
    )  # fmt: skip
    timestamp, nonce = str(int(time.time())), secrets.token_hex(16)
    message = f"{timestamp}\n{nonce}\nPOST\n{PATH}\n".encode() + body.encode()
    signature = hmac.new(seed.secret.encode(), message, hashlib.sha256).hexdigest()
    return "\t".join([seed.key_id, timestamp, nonce, signature, body])


def write_requests(
    seed: Seed, work: Path, tag: str, count: int, *, respond_async: bool = False
) -> Path:
    """`count` requests per wrk thread, and the Lua script that replays each once
    (`respond_async`: with `Prefer: respond-async`, answered once stored in the inbox)."""
    files = []
    for thread in range(THREADS):
        path = work / f"{tag}-{thread}.tsv"
        with path.open("w") as out:
            for index in range(count):
                out.write(signed_line(seed, f"{tag}t{thread}", index) + "\n")
        files.append(path)
    script = work / f"{tag}.lua"
    extra = ' ["Prefer"] = "respond-async",' if respond_async else ""
    script.write_text(
        LUA % {"files": ", ".join(f'"{f}"' for f in files), "path": PATH, "extra": extra}
    )
    return script


def run_wrk(
    port: int,
    script: Path,
    *,
    seconds: int,
    connections: int,
    sent: int,
    server: subprocess.Popen[bytes],
    written: Callable[[], int],
    backlog: Callable[[], int] | None = None,
    db_cpu: Callable[[], dict[int, float]] | None = None,
) -> WrkResult:
    """One wrk round, with the CPU the server's processes spent on it and the rows it wrote
    (`written` counts them: orders for the real server, rows for the bare one). With
    `backlog` (the events accepted but not applied yet), also how long applying what the
    round accepted took after wrk stopped."""
    command = [
        "wrk", f"-t{THREADS}", f"-c{connections}", f"-d{seconds}s", "--latency",
        "-s", str(script), f"http://127.0.0.1:{port}{PATH}",
    ]  # fmt: skip
    rows_before = written()
    db_before = db_cpu() if db_cpu is not None else {}
    before = tree_cpu_seconds(server.pid)
    out = subprocess.run(
        command, capture_output=True, text=True, check=True, timeout=seconds + 120
    ).stdout
    stopped = time.monotonic()
    cpu_at_stop = tree_cpu_seconds(server.pid)
    applied_by_stop = written() - rows_before
    drain_seconds = 0.0
    if backlog is not None:
        while backlog() > 0:
            time.sleep(0.2)
        drain_seconds = time.monotonic() - stopped
    # Sampled before the server's connections go idle and may be closed.
    db_spent = session_cpu_spent(db_before, db_cpu()) if db_cpu is not None else 0.0
    # Requests still in flight when wrk stops (at most one per connection) are finished
    # before the next round: count their CPU here, once the server is idle again.
    after = tree_cpu_seconds(server.pid)
    while True:
        time.sleep(SETTLE_SECONDS)
        now = tree_cpu_seconds(server.pid)
        if now - after < SETTLE_SECONDS * IDLE_CPU_SHARE:
            break
        after = now
    return dataclasses.replace(
        parse_wrk(out, sent=sent),
        server_cpu_seconds=now - before,
        rows_written=written() - rows_before,
        drain_seconds=drain_seconds,
        applied_by_stop=applied_by_stop,
        cpu_seconds_by_stop=cpu_at_stop - before,
        db_cpu_seconds=db_spent,
    )


def mariadb_session_cpu(url: str) -> Callable[[], dict[int, float]]:
    """CPU seconds of the mariadbd threads serving the benchmark's database, by thread id:
    MariaDB runs one thread per connection (PROCESSLIST.TID), so other clients of a shared
    server are left out; InnoDB's background threads (purge, flushing) are not counted."""
    import pymysql

    parts = urlsplit(url)
    database = parts.path.lstrip("/")
    found = subprocess.run(["pidof", "mariadbd"], capture_output=True, text=True).stdout.split()
    ticks = os.sysconf("SC_CLK_TCK")

    def sample() -> dict[int, float]:
        if not found:
            return {}
        conn = pymysql.connect(
            host=parts.hostname or "127.0.0.1", port=parts.port or 3306,
            user=parts.username or "root", password=parts.password or "",
        )  # fmt: skip
        try:
            with conn.cursor() as cursor:
                cursor.execute(
                    "SELECT TID FROM information_schema.PROCESSLIST WHERE DB = %s", [database]
                )
                tids = [int(row[0]) for row in cursor.fetchall()]
        finally:
            conn.close()
        cpu = {}
        for tid in tids:
            try:
                stat = Path(f"/proc/{found[0]}/task/{tid}/stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            cpu[tid] = (int(fields[11]) + int(fields[12])) / ticks
        return cpu

    return sample


def session_cpu_spent(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU the threads spent between two samples (a thread born meanwhile counts whole)."""
    return sum(seconds - before.get(tid, 0.0) for tid, seconds in after.items())


# ---------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_ready(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 300  # a loaded shared machine starts workers slowly
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                time.sleep(2)  # let every worker finish starting
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"server not ready:\n{log.read_text()[-3000:]}")


def start_process(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    # Its own process group: stopping it stops its workers too, whatever happens.
    with log.open("wb") as out:
        return subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=out, start_new_session=True
        )


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group; SIGKILL it if it has not stopped within 90 s."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=90)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    except ProcessLookupError:
        pass


# ---------------------------------------------------------------- the run
