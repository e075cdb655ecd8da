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
import os
import secrets
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bench.order_event_load import (
    REQUESTS_PER_SECOND_BUDGET,
    free_port,
    mariadb_session_cpu,
    run_wrk,
    start_process,
    stop_process,
    wait_ready,
    write_requests,
)
from bench.order_event_preload import preload
from bench.order_event_report import (
    THREADS,
    WARMUP_SECONDS,
    WrkResult,
    render,
    save_section,
)
from bench.order_event_setup import (
    count_rows,
    inbox_backlog,
    mysql_admin,
    row_counter,
    seed,
    serve_bare,
)
from bench.visit_load import server_env


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
        bare_proc = start_process(
            [sys.executable, "-m", "bench.order_event_bench", "--serve-bare", str(bare_port),
             "--workers", str(args.workers), "--connections", str(args.connections),
             "--database-url", url],
            dict(os.environ), work / "bare.log",
        )  # fmt: skip
        server = start_process(
            [sys.executable, "-m", "server.cli", "run"],
            server_env(
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
                stop_process(server)
            finally:
                stop_process(bare_proc)
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
