"""Visit recording throughput: POST /mp/v1/visits on the real server against a bare Sanic JSON
endpoint with the same number of workers, both driven by wrk on loopback; then a no-loss check.

    .venv/bin/python -m bench.visit_bench [--duration 15] [--rounds 3] [--connections 64]
                                          [--workers 2] [--no-save]

Database: a fresh SQLite file by default; with DATABASE_URL=mysql://user:pass@host:port/…, a
throwaway database on that server, created for the run and dropped after it. The real server
is started exactly as in production (`python -m server.cli run`, FENXIAO_ENV=production, so
no access log), the bare app likewise without access log. Both run at once and wrk measures
them in alternating rounds, so background load drifting during the run hits both alike.

No-loss check: after the wrk rounds, a bounded Python client sends a known number of visits
(tagged utm_campaign=exact) and counts the 2xx answers; the server is then stopped with
SIGTERM right away, while the last visits are still in the buffers, and the rows are counted
after it exited. Rows tagged "exact" must equal those 2xx answers. For the wrk run, rows may
exceed wrk's 2xx count by the requests in flight when wrk stopped reading (≤ connections
per round).
Needs wrk (`apt-get install -y wrk`). Writes the "## Visits" section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import dataclasses
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from sanic import Request, Sanic
from sanic.response import HTTPResponse, json
from tortoise import Tortoise

from bench.visit_report import Report, WrkResult, parse_wrk, render, save_section
from server.db import tortoise_config

ROOT = Path(__file__).resolve().parents[1]
WARMUP_SECONDS = 3
EXACT_VISITS = 5_000
EXACT_DEADLINE_SECONDS = 120
STOP_DEADLINE_SECONDS = 90
FLUSH_SETTLE_SECONDS = 0.5
WECHAT_UA = "Mozilla/5.0 (iPhone) MicroMessenger/8.0.44 NetType/WIFI Language/zh_CN"


# ---------------------------------------------------------------- the bare baseline


def bare_app() -> Sanic:
    """The baseline: the same route answering the same JSON, with nothing behind it."""
    app = Sanic("visit_bench_bare")

    @app.post("/mp/v1/visits")
    async def accept(request: Request) -> HTTPResponse:
        return json({"accepted": True}, status=202)

    @app.get("/healthz")
    async def healthz(request: Request) -> HTTPResponse:
        return json({"status": "ok"})

    return app


def serve_bare(port: int, workers: int) -> None:
    from sanic.worker.loader import AppLoader

    loader = AppLoader(factory=partial(bare_app))
    app = loader.load()
    app.prepare(host="127.0.0.1", port=port, workers=workers, access_log=False)
    Sanic.serve(primary=app, app_loader=loader)


# ---------------------------------------------------------------- database


async def _mysql_admin(url: str, sql: str) -> None:
    import aiomysql

    parts = urlsplit(url)
    conn = await aiomysql.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 3306,
        user=parts.username or "root",
        password=parts.password or "",
        autocommit=True,
    )
    try:
        async with conn.cursor() as cur:
            await cur.execute(sql)
    finally:
        conn.close()


async def prepare_database(url: str) -> str:
    """Create the schema and a program with one approved promoter's link; its short code."""
    from server.models import Promoter, User
    from server.services.programs import ensure_demo_program
    from server.services.share_links import create_link

    await Tortoise.init(config=tortoise_config(url))
    try:
        await Tortoise.generate_schemas(safe=True)
        program = await ensure_demo_program()
        user = await User.create(appid="bench", openid=secrets.token_hex(8), nickname="Bench")
        await Promoter.create(
            program=program, user=user, status="approved", invite_code=secrets.token_hex(4)
        )
        link, _ = await create_link(user_id=user.id, program_id=program.id)
        return link.short_code
    finally:
        await Tortoise.close_connections()


async def count_visits(url: str) -> dict[str, int]:
    """Rows per utm_campaign tag."""
    from server.models import Visit

    await Tortoise.init(config=tortoise_config(url))
    try:
        rows = await Visit.all().values_list("utm_campaign", flat=True)
    finally:
        await Tortoise.close_connections()
    counts: dict[str, int] = {}
    for tag in rows:
        counts[str(tag)] = counts.get(str(tag), 0) + 1
    return counts


# ---------------------------------------------------------------- processes and load


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_ready(port: int, process: subprocess.Popen[bytes], log: Path, workers: int) -> None:
    """Until /healthz answers and every worker said it is ready (requests sent before would
    queue on a worker still starting and skew the first round)."""
    deadline = time.monotonic() + 90
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


# ---------------------------------------------------------------- the run


def _database(work: Path) -> tuple[str, str, str | None]:
    """(URL, label, throwaway MariaDB database to drop or None)."""
    given = os.environ.get("DATABASE_URL", "")
    if not given.startswith("mysql://"):
        return f"sqlite://{work / 'bench.sqlite3'}", "SQLite file", None
    name = f"fenxiao_bench_visits_{secrets.token_hex(4)}"
    asyncio.run(_mysql_admin(given, f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    parts = urlsplit(given)
    url = urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, ""))
    return url, "MariaDB over loopback TCP (throwaway database)", name


def _start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=out)


def _server_env(url: str, port: int, workers: int, work: Path) -> dict[str, str]:
    return {
        **os.environ,
        "FENXIAO_ENV": "production",
        "DATABASE_URL": url,
        "WORKERS": str(workers),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "JWT_SECRET": secrets.token_urlsafe(48),
        "VISITOR_HASH_SALT": secrets.token_hex(16),
        "S2S_KEY_ENCRYPTION_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        # Never called by this route; set so that no WeChat stand-in is started.
        "WECHAT_API_BASE": "http://127.0.0.1:9",
        "PROMETHEUS_MULTIPROC_DIR": str(work / "prometheus"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.visit_bench")
    parser.add_argument("--duration", type=int, default=15, help="seconds per wrk round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per endpoint")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument(
        "--server-env",
        type=lambda text: tuple(text.split("=", 1)),
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for the real server, e.g. LOG_LEVEL=WARNING",
    )
    parser.add_argument("--no-save", action="store_true", help="print, do not write RESULTS.md")
    args = parser.parse_args(argv)
    if args.serve_bare:
        serve_bare(args.serve_bare, args.workers)
        return 0

    work = Path(tempfile.mkdtemp(prefix="visit-bench-"))
    url, database, throwaway = _database(work)
    load_before = os.getloadavg()[0]
    try:
        short_code = asyncio.run(prepare_database(url))
        body = '{"short_code":"' + short_code + '","utm_campaign":"%s"}'
        wrk = partial(run_wrk, connections=args.connections, script_dir=work)
        bare_port, port = free_port(), free_port()
        bare_proc = _start(
            [sys.executable, "-m", "bench.visit_bench", "--serve-bare", str(bare_port),
             "--workers", str(args.workers)],
            dict(os.environ), work / "bare.log",
        )  # fmt: skip
        server = _start(
            [sys.executable, "-m", "server.cli", "run"],
            {**_server_env(url, port, args.workers, work), **dict(args.server_env)},
            work / "server.log",
        )
        try:
            wait_ready(bare_port, bare_proc, work / "bare.log", args.workers)
            wait_ready(port, server, work / "server.log", args.workers)
            wrk(bare_port, body % "warmup", seconds=WARMUP_SECONDS)
            wrk(port, body % "warmup", seconds=WARMUP_SECONDS)
            bare: list[WrkResult] = []
            real: list[WrkResult] = []
            measure = partial(
                measured_round,
                seconds=args.duration,
                connections=args.connections,
                script_dir=work,
            )
            # Alternating rounds: background load drifting during the run hits both alike.
            for _ in range(args.rounds):
                bare.append(measure(bare_proc, bare_port, body % "bare"))
                real.append(measure(server, port, body % "wrk"))
            exact_ok = asyncio.run(
                send_exact(port, short_code, total=EXACT_VISITS, connections=args.connections)
            )
        finally:
            stop_seconds = stop(server)
            stop(bare_proc)
        rows = asyncio.run(count_visits(url))
    finally:
        if throwaway:
            asyncio.run(_mysql_admin(os.environ["DATABASE_URL"], f"DROP DATABASE `{throwaway}`"))
    command = " ".join(
        ["python -m bench.visit_bench", *(argv if argv is not None else sys.argv[1:])]
    )
    section = render(
        Report(
            command=command.strip(),
            database=database,
            duration=args.duration,
            connections=args.connections,
            workers=args.workers,
            warmup=WARMUP_SECONDS,
            bare=bare,
            real=real,
            rows=rows,
            exact_ok=exact_ok,
            stop_seconds=stop_seconds,
            load_before=load_before,
            load_after=os.getloadavg()[0],
        )
    )
    print(section)
    if not args.no_save:
        save_section(section)
    return 0 if rows.get("exact", 0) == exact_ok else 1


if __name__ == "__main__":
    sys.exit(main())
