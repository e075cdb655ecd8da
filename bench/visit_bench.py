"""Visit recording throughput: POST /mp/v1/visits on the real server against a bare Sanic JSON
endpoint with the same number of workers, both driven by wrk on loopback; then a no-loss check.

    .venv/bin/python -m bench.visit_bench [--duration 15] [--connections 64] [--workers 2]

Database: a fresh SQLite file by default; with DATABASE_URL=mysql://user:pass@host:port/…, a
throwaway database on that server, created for the run and dropped after it. The real server
is started exactly as in production (`python -m server.cli run`, FENXIAO_ENV=production, so
no access log), the bare app likewise without access log.

No-loss check: after the wrk run, a bounded Python client sends a known number of visits
(tagged utm_campaign=exact) and counts the 2xx answers; the server is then stopped with
SIGTERM right away, while the last visits are still in the buffers, and the rows are counted
after it exited. Rows tagged "exact" must equal those 2xx answers. For the wrk run, rows may
exceed wrk's 2xx count by the requests in flight when wrk stopped reading (≤ connections).
Needs wrk (`apt-get install -y wrk`). Writes the "## Visits" section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
from sanic import Request, Sanic
from sanic.response import HTTPResponse, json
from tortoise import Tortoise

from bench.hierarchy_report import RESULTS
from server.db import tortoise_config

ROOT = Path(__file__).resolve().parents[1]
WARMUP_SECONDS = 3
EXACT_VISITS = 5_000
EXACT_DEADLINE_SECONDS = 120
STOP_DEADLINE_SECONDS = 90
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


def wait_ready(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"server not ready:\n{log.read_text()[-3000:]}")


def stop(process: subprocess.Popen[bytes]) -> float:
    """SIGTERM (a graceful shutdown) and wait; the seconds it took."""
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=STOP_DEADLINE_SECONDS)
    return time.monotonic() - started


@dataclass
class WrkResult:
    requests: int
    non_2xx: int
    socket_errors: str
    rps: float
    p50_ms: float
    p99_ms: float

    @property
    def ok(self) -> int:
        return self.requests - self.non_2xx


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(port: int, body: str, *, seconds: int, connections: int, script_dir: Path) -> WrkResult:
    script = script_dir / f"visit-{secrets.token_hex(3)}.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = '{body}'\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["User-Agent"] = "{WECHAT_UA}"\n'
    )
    threads = max(1, min(2, os.cpu_count() or 1))
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}/mp/v1/visits",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    ).stdout
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return WrkResult(
        requests=int(re.search(r"(\d+) requests in", out).group(1)),  # type: ignore[union-attr]
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=errors.group(1) if errors else "none",
        rps=float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        p50_ms=_ms(re.search(r"50%\s+(\S+)", out).group(1)),  # type: ignore[union-attr]
        p99_ms=_ms(re.search(r"99%\s+(\S+)", out).group(1)),  # type: ignore[union-attr]
    )


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


def machine() -> str:
    with open("/proc/cpuinfo") as info:
        cpu = next((ln.split(":", 1)[1].strip() for ln in info if ln.startswith("model name")), "")
    with open("/proc/meminfo") as info:
        memory = int(next(ln.split()[1] for ln in info if ln.startswith("MemTotal")))
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout
    return (
        f"nproc {os.cpu_count()} ({cpu}), {memory / 1048576:.0f} GiB RAM, Python "
        f"{sys.version.split()[0]}, {wrk.splitlines()[0] if wrk else 'wrk'}; load generator "
        "and servers share the machine"
    )


def render(
    *,
    args: argparse.Namespace,
    db_label: str,
    bare: WrkResult,
    real: WrkResult,
    rows: dict[str, int],
    exact_ok: int,
    stop_seconds: float,
) -> str:
    ratio = real.rps / bare.rps
    wrk_rows = rows.get("wrk", 0)
    lost = exact_ok - rows.get("exact", 0)
    lines = [
        "## Visits",
        "",
        f"`.venv/bin/python -m bench.visit_bench --duration {args.duration} --connections "
        f"{args.connections} --workers {args.workers}` ({db_label}), "
        f"{time.strftime('%Y-%m-%d')}.",
        f"Machine: {machine()}.",
        "",
        f"wrk, {args.connections} connections, {args.duration} s each after a "
        f"{WARMUP_SECONDS} s warm-up, {args.workers} Sanic workers each:",
        "",
        "| endpoint | req/s | p50 | p99 | non-2xx | socket errors |",
        "|---|---:|---:|---:|---:|---|",
        f"| bare Sanic JSON (`POST /mp/v1/visits` → 202) | {bare.rps:,.0f} | "
        f"{bare.p50_ms:.2f} ms | {bare.p99_ms:.2f} ms | {bare.non_2xx} | {bare.socket_errors} |",
        f"| fenxiao `POST /mp/v1/visits` (short code) | {real.rps:,.0f} | {real.p50_ms:.2f} ms "
        f"| {real.p99_ms:.2f} ms | {real.non_2xx} | {real.socket_errors} |",
        "",
        f"**Ratio: {ratio:.2f}** of the bare endpoint's throughput (target ≥ 0.5).",
        "",
        "No loss: "
        f"{exact_ok:,} visits answered 2xx by a counting client, then SIGTERM at once "
        f"(graceful stop took {stop_seconds:.1f} s): {rows.get('exact', 0):,} rows "
        f"({'none lost' if lost == 0 else f'{lost} LOST'}). wrk run: {real.ok:,} 2xx counted "
        f"by wrk, {wrk_rows:,} rows (+{wrk_rows - real.ok} answered after wrk stopped reading, "
        f"≤ {args.connections} connections).",
        "",
    ]
    return "\n".join(lines)


def save_section(section: str) -> None:
    """Replace (or add) the "## Visits" section; other benches keep theirs."""
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    start = text.find("## Visits")
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + 1)
        text = text[:start] + section + ("" if end < 0 else text[end + 1 :])
    RESULTS.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.visit_bench")
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--no-save", action="store_true", help="print, do not write RESULTS.md")
    args = parser.parse_args(argv)
    if args.serve_bare:
        serve_bare(args.serve_bare, args.workers)
        return 0

    work = Path(tempfile.mkdtemp(prefix="visit-bench-"))
    given = os.environ.get("DATABASE_URL", "")
    dropped: str | None = None
    if given.startswith("mysql://"):
        name = f"fenxiao_bench_{secrets.token_hex(4)}"
        asyncio.run(_mysql_admin(given, f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
        parts = urlsplit(given)
        url = urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, ""))
        dropped, db_label = name, "MariaDB on loopback TCP, throwaway database"
    else:
        url, db_label = f"sqlite://{work / 'bench.sqlite3'}", "SQLite file"
    try:
        short_code = asyncio.run(prepare_database(url))
        body = '{"short_code":"%s","utm_campaign":"%%s"}' % short_code
        common = {"seconds": args.duration, "connections": args.connections, "script_dir": work}

        bare_port = free_port()
        bare_log = work / "bare.log"
        with bare_log.open("wb") as out:
            bare_proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bench.visit_bench",
                    "--serve-bare",
                    str(bare_port),
                    "--workers",
                    str(args.workers),
                ],
                cwd=ROOT,
                stdout=out,
                stderr=out,
            )
        try:
            wait_ready(bare_port, bare_proc, bare_log)
            run_wrk(bare_port, body % "warmup", **{**common, "seconds": WARMUP_SECONDS})
            bare = run_wrk(bare_port, body % "bare", **common)
        finally:
            stop(bare_proc)

        port = free_port()
        env = {
            **os.environ,
            "FENXIAO_ENV": "production",
            "DATABASE_URL": url,
            "WORKERS": str(args.workers),
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "JWT_SECRET": secrets.token_urlsafe(48),
            "VISITOR_HASH_SALT": secrets.token_hex(16),
            # Never called by this route; set so that no WeChat stand-in is started.
            "WECHAT_API_BASE": "http://127.0.0.1:9",
        }
        server_log = work / "server.log"
        with server_log.open("wb") as out:
            server = subprocess.Popen(
                [sys.executable, "-m", "server.cli", "run"],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=out,
            )
        try:
            wait_ready(port, server, server_log)
            run_wrk(port, body % "warmup", **{**common, "seconds": WARMUP_SECONDS})
            real = run_wrk(port, body % "wrk", **common)
            exact_ok = asyncio.run(
                send_exact(port, short_code, total=EXACT_VISITS, connections=args.connections)
            )
        finally:
            stop_seconds = stop(server)
        rows = asyncio.run(count_visits(url))
    finally:
        if dropped:
            asyncio.run(_mysql_admin(given, f"DROP DATABASE IF EXISTS `{dropped}`"))
    section = render(
        args=args,
        db_label=db_label,
        bare=bare,
        real=real,
        rows=rows,
        exact_ok=exact_ok,
        stop_seconds=stop_seconds,
    )
    print(section)
    if not args.no_save:
        save_section(section)
    return 0 if rows.get("exact", 0) == exact_ok else 1


if __name__ == "__main__":
    sys.exit(main())
