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
import os
import secrets
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from sanic import Request, Sanic
from sanic.response import HTTPResponse, json
from tortoise import Tortoise

from bench.visit_load import (
    free_port,
    measured_round,
    send_exact,
    server_env,
    stop,
    wait_ready,
)
from bench.visit_report import Report, WrkResult, render, save_section
from server.db import tortoise_config

ROOT = Path(__file__).resolve().parents[1]
WARMUP_SECONDS = 3
EXACT_VISITS = 5_000


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
    from server.services.programs.settings import ensure_demo_program
    from server.services.sharing.links import create_link

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


@dataclass
class RealServer:
    """One configuration of the real server under test."""

    label: str
    env: dict[str, str]
    tag: str
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    results: list[WrkResult] = field(default_factory=list)


def _variant(text: str) -> tuple[str, str]:
    name, _, value = text.partition("=")
    if not name or not _:
        raise argparse.ArgumentTypeError("expected NAME=VALUE")
    return name, value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.visit_bench")
    parser.add_argument("--duration", type=int, default=15, help="seconds per wrk round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per endpoint")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument(
        "--variant",
        type=_variant,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="also measure the real server with this extra setting (e.g. LOG_LEVEL=WARNING)",
    )
    parser.add_argument("--no-save", action="store_true", help="print, do not write RESULTS.md")
    args = parser.parse_args(argv)
    if args.serve_bare:
        serve_bare(args.serve_bare, args.workers)
        return 0

    work = Path(tempfile.mkdtemp(prefix="visit-bench-"))
    url, database, throwaway = _database(work)
    load_before = os.getloadavg()[0]
    servers = [RealServer(label="fenxiao visit → 202", env={}, tag="wrk")]
    servers += [
        RealServer(label=f"fenxiao visit, {name}={value}", env={name: value}, tag=f"wrk{index}")
        for index, (name, value) in enumerate(args.variant, start=1)
    ]
    bare: list[WrkResult] = []
    try:
        short_code = asyncio.run(prepare_database(url))
        body = '{"short_code":"' + short_code + '","utm_campaign":"%s"}'
        bare_port = free_port()
        bare_proc = _start(
            [sys.executable, "-m", "bench.visit_bench", "--serve-bare", str(bare_port),
             "--workers", str(args.workers)],
            dict(os.environ), work / "bare.log",
        )  # fmt: skip
        for server in servers:
            server.port = free_port()
            environment = server_env(url, server.port, args.workers, work)
            server.process = _start(
                [sys.executable, "-m", "server.cli", "run"],
                {**environment, **server.env},
                work / f"server-{server.tag}.log",
            )
        main_server = servers[0]
        try:
            wait_ready(bare_port, bare_proc, work / "bare.log", args.workers)
            for server in servers:
                assert server.process is not None
                log = work / f"server-{server.tag}.log"
                wait_ready(server.port, server.process, log, args.workers)
            measure = partial(measured_round, connections=args.connections, script_dir=work)
            measure(bare_proc, bare_port, body % "warmup", seconds=WARMUP_SECONDS)
            for server in servers:
                measure(server.process, server.port, body % "warmup", seconds=WARMUP_SECONDS)
            # Alternating rounds: background load drifting during the run hits all alike.
            for _ in range(args.rounds):
                bare.append(measure(bare_proc, bare_port, body % "bare", seconds=args.duration))
                for server in servers:
                    server.results.append(
                        measure(
                            server.process, server.port, body % server.tag, seconds=args.duration
                        )
                    )
            exact_ok = asyncio.run(
                send_exact(
                    main_server.port, short_code, total=EXACT_VISITS, connections=args.connections
                )
            )
        finally:
            assert main_server.process is not None
            stop_seconds = stop(main_server.process)
            for server in servers[1:]:
                if server.process is not None:
                    stop(server.process)
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
            real=[(server.label, server.results) for server in servers],
            rows=rows,
            wrk_rows=rows.get(main_server.tag, 0),
            exact_ok=exact_ok,
            stop_seconds=stop_seconds,
            load_before=load_before,
            load_after=os.getloadavg()[0],
        )
    )
    print(section)
    if not args.no_save:
        save_section(section, database=database)
    return 0 if rows.get("exact", 0) == exact_ok else 1


if __name__ == "__main__":
    sys.exit(main())
