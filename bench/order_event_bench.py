"""Order-event throughput: signed order.paid events on the real server against a bare Sanic
endpoint doing one aiomysql INSERT per request, both on MariaDB, both with the same workers.

    .venv/bin/python -m bench.order_event_bench [--duration 15] [--rounds 3]
        [--connections 32] [--workers 2] [--sweep 2,8] [--pool-size N] [--no-save]

MariaDB: BENCH_MYSQL_URL (default mysql://root:@127.0.0.1:3306); a throwaway database is
created for the run and dropped after it. The real server runs exactly as in production
(`python -m server.cli run`, FENXIAO_ENV=production). Each event is an order.paid of two
lines (one under a product rule) bought by an approved promoter of a 3-level program with
the self-purchase rebate on: four beneficiaries per line, eight commissions per order.

Load. Every signed request must carry a fresh nonce and a unique event id, so a fixed wrk
body cannot be replayed. Before each round the requests are generated and signed in
Python (one HMAC each, within the replay window) into one file per wrk thread; a wrk Lua
script loads its file and sends each request exactly once, on loopback, for a fixed time.
The bare endpoint is driven by the same script with the same kind of requests (it ignores
the signature), so both see identical bytes on the wire. Rounds alternate bare / real, so
background load drifting during the run hits both alike. A round that would run out of
pre-generated requests is flagged. After the rounds, one round per `--sweep` connection
count shows the service time with little queueing; the orders and commissions written are
counted against wrk's 2xx answers.

CPU. Each round also records the user + system CPU of the server's processes (/proc), from
its start until the server is idle again, divided by the rows the round wrote (orders; the
baseline's rows): server CPU per request, and its ratio between the endpoints — what the
throughput ratio tends to when the servers have the cores to themselves, and a steadier
guide than req/s on a machine shared with other work. `python -m bench.order_event_profile`
shows where one event's CPU and statements go.
Needs wrk (`apt-get install -y wrk`). Writes the "## Order events" section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import dataclasses
import hashlib
import hmac
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx

from bench.order_event_preload import preload
from bench.order_event_report import (
    THREADS,
    WARMUP_SECONDS,
    WrkResult,
    parse_wrk,
    render,
    save_section,
)
from bench.order_event_setup import (
    PATH,
    Seed,
    count_rows,
    inbox_backlog,
    mysql_admin,
    row_counter,
    seed,
    serve_bare,
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


def _start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    # Its own process group: stopping it stops its workers too, whatever happens.
    with log.open("wb") as out:
        return subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=out, start_new_session=True
        )


def _stop(process: subprocess.Popen[bytes]) -> None:
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


def _server_env(url: str, port: int, workers: int, work: Path, key: str) -> dict[str, str]:
    return {
        **os.environ,
        "FENXIAO_ENV": "production",
        "DATABASE_URL": url,
        "WORKERS": str(workers),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "JWT_SECRET": secrets.token_urlsafe(48),
        "VISITOR_HASH_SALT": secrets.token_hex(16),
        "S2S_KEY_ENCRYPTION_KEY": key,
        # Never called by this route; set so that no WeChat stand-in is started.
        "WECHAT_API_BASE": "http://127.0.0.1:9",
        # No payouts in this benchmark.
        "WECHAT_PAY_API_VERSION": "none",
        "PROMETHEUS_MULTIPROC_DIR": str(work / "prometheus"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.order_event_bench")
    parser.add_argument("--duration", type=int, default=15, help="seconds per wrk round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per endpoint")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--sweep",
        type=lambda text: [int(n) for n in text.split(",") if n],
        default=[2, 8],
        help="connection counts of one extra round each, after the measured rounds",
    )
    parser.add_argument(
        "--pool-size",
        type=int,
        help="the real server's connection pool per worker (DATABASE_URL ?maxsize=); default:"
        " tortoise's own (5)",
    )
    parser.add_argument(
        "--preload-inbox", type=int, default=0, help="applied inbox rows written before the run"
    )
    parser.add_argument(
        "--preload-commissions",
        type=int,
        default=0,
        help="commissions (with their orders and lines) written before the run",
    )
    parser.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    parser.add_argument("--no-save", action="store_true", help="print, do not write RESULTS.md")
    args = parser.parse_args(argv)
    if args.serve_bare:
        serve_bare(args.serve_bare, args.workers, args.database_url, args.connections)
        return 0

    base = os.environ.get("BENCH_MYSQL_URL", "mysql://root:@127.0.0.1:3306")
    name = f"fenxiao_bench_orders_{secrets.token_hex(4)}"
    parts = urlsplit(base)
    url = urlunsplit((parts.scheme, parts.netloc, "/" + name, "", ""))
    work = Path(tempfile.mkdtemp(prefix="order-bench-"))
    key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    asyncio.run(mysql_admin(base, f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    load_before = os.getloadavg()[0]
    try:
        seeded = asyncio.run(seed(url, key))
        preloaded = preload(
            url,
            program_id=seeded.program_id,
            key_id=seeded.key_id,
            inbox_rows=args.preload_inbox,
            commissions=args.preload_commissions,
        )
        print("preloaded:", preloaded, flush=True)
        first_new_order = args.preload_commissions // 4
        bare_port, port = free_port(), free_port()
        bare_proc = _start(
            [sys.executable, "-m", "bench.order_event_bench", "--serve-bare", str(bare_port),
             "--workers", str(args.workers), "--connections", str(args.connections),
             "--database-url", url],
            dict(os.environ), work / "bare.log",
        )  # fmt: skip
        server = _start(
            [sys.executable, "-m", "server.cli", "run"],
            _server_env(
                f"{url}?maxsize={args.pool_size}" if args.pool_size else url,
                port,
                args.workers,
                work,
                key,
            ),
            work / "server.log",
        )
        try:
            wait_ready(bare_port, bare_proc, work / "bare.log")
            wait_ready(port, server, work / "server.log")

            processes = {bare_port: bare_proc, port: server}
            counters = {
                bare_port: row_counter(url, "bench_inserts"),
                # By primary key: a COUNT(*) of the preloaded orders would take seconds.
                port: row_counter(url, "orders", where=f"id > {first_new_order}"),
            }

            backlog = inbox_backlog(url)
            db_cpu = mariadb_session_cpu(url)

            def round_of(
                target: int,
                tag: str,
                seconds: int,
                connections: int = args.connections,
                respond_async: bool = False,
            ) -> WrkResult:
                count = REQUESTS_PER_SECOND_BUDGET * seconds // THREADS
                script = write_requests(seeded, work, tag, count, respond_async=respond_async)
                return run_wrk(
                    target, script, seconds=seconds, connections=connections,
                    sent=count * THREADS, server=processes[target],
                    written=counters[target], backlog=backlog if respond_async else None,
                    db_cpu=db_cpu if respond_async else None,
                )  # fmt: skip

            round_of(bare_port, "warmbare", WARMUP_SECONDS)
            round_of(port, "warmreal", WARMUP_SECONDS)
            round_of(port, "warmasync", WARMUP_SECONDS, respond_async=True)
            bare: list[WrkResult] = []
            real: list[WrkResult] = []
            queued: list[WrkResult] = []
            for number in range(args.rounds):
                bare.append(round_of(bare_port, f"bare{number}", args.duration))
                real.append(round_of(port, f"real{number}", args.duration))
                queued.append(round_of(port, f"async{number}", args.duration, respond_async=True))
            # Fewer connections: the service time itself, with little queueing in front of it.
            sweep = [
                (
                    connections,
                    round_of(bare_port, f"sweepbare{connections}", args.duration, connections),
                    round_of(port, f"sweepreal{connections}", args.duration, connections),
                )
                for connections in args.sweep
            ]
        finally:
            try:
                _stop(server)
            finally:
                _stop(bare_proc)
        counts = asyncio.run(count_rows(url))
    finally:
        asyncio.run(mysql_admin(base, f"DROP DATABASE IF EXISTS `{name}`"))
    command = " ".join(
        ["python -m bench.order_event_bench", *(argv if argv is not None else sys.argv[1:])]
    )
    section = render(
        command=command.strip(),
        args=args,
        mariadb_version=seeded.mariadb_version,
        bare=bare,
        real=real,
        queued=queued,
        sweep=sweep,
        counts=counts,
        load=(load_before, os.getloadavg()[0]),
        preloaded=preloaded,
    )
    print(section)
    if not args.no_save:
        save_section(section)
    clean = all(r.non_2xx == 0 and not r.exhausted for r in real + queued)
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
