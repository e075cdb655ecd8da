"""Where one signed order.paid spends its CPU and its statements, at concurrency 1.

    .venv/bin/python -m bench.order_event_profile [--events 300] [--top 30] [--sqlite] [--out FILE]
        [--respond-async] [--drain [--claims 64,128] [--pipelines 2]]

Seeds the benchmark's program (bench/order_event_setup.py) in a throwaway MariaDB database
(BENCH_MYSQL_URL, dropped after the run; `--sqlite` uses a temporary file instead), then
sends `--events` signed order.paid requests one after the other through the real app
in-process (sanic's ASGI client: routing, middleware, the S2S guard, the use case), counting
the SQL statements each runs and the process CPU it takes, and writes a cProfile of them to `--out`
(the report) and `--out`.prof (the raw stats, for pstats or snakeviz).
`--respond-async` sends them with `Prefer: respond-async`: what accepting into the inbox
costs (no drainer runs here, so nothing is applied). `--drain` accepts them that way, then
profiles `drain_order_events` applying them in claimed batches of 32 (set-based); the
"one at a time" figure drains them one per claim (the per-event path).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import cProfile
import io
import os
import pstats
import secrets
import tempfile
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

WARMUP_EVENTS = 20
# Each set-based shape is timed this many times, the shapes taking turns.
REPEATS = 3


def _count_statements(counter: Counter[str], waits: Counter[str]) -> None:
    """Count every statement sent to the database (BEGIN, COMMIT, SAVEPOINT included), by its
    first words, and add up the wall time each kind waits for MariaDB in `waits`."""
    import aiomysql
    import aiosqlite
    from pymysql.constants import COMMAND

    def key(query: object) -> str:
        text = query.decode(errors="replace") if isinstance(query, bytes | bytearray) else query
        return " ".join(str(text).split()[:3])[:60]

    original_command = aiomysql.Connection._execute_command

    def command(self, kind, sql):  # type: ignore[no-untyped-def]
        if kind == COMMAND.COM_QUERY:
            counter[key(sql)] += 1
        return original_command(self, kind, sql)

    aiomysql.Connection._execute_command = command
    for name in ("query", "begin", "commit"):
        timed = getattr(aiomysql.Connection, name)

        async def timer(self, *args, __timed=timed, __name=name, **kwargs):  # type: ignore[no-untyped-def]
            started = time.perf_counter()
            try:
                return await __timed(self, *args, **kwargs)
            finally:
                what = key(args[0]) if args else __name.upper()
                waits[what] += time.perf_counter() - started

        setattr(aiomysql.Connection, name, timer)
    for name in ("execute", "executemany", "execute_insert"):
        original = getattr(aiosqlite.Connection, name)

        def wrapper(self, query, *args, __original=original, **kwargs):  # type: ignore[no-untyped-def]
            counter[key(query)] += 1
            return __original(self, query, *args, **kwargs)

        setattr(aiosqlite.Connection, name, wrapper)


async def _run(
    url: str,
    encryption_key: str,
    events: int,
    top: int,
    out_path: str,
    respond_async: bool,
    drain: bool = False,
    claims: tuple[int, ...] = (),
    pipelines: tuple[int, ...] = (),
) -> None:
    import httpx
    from sanic import Sanic
    from tortoise import Tortoise

    from bench.order_event_load import signed_line
    from bench.order_event_setup import PATH, seed
    from server.app import create_app
    from server.config import Settings
    from server.db import init_db
    from server.domain.orders.inbox import CLAIM_BATCH
    from server.services.orders.inbox import drain_order_events

    respond_async = respond_async or drain

    seeded = await seed(url, encryption_key)
    os.environ.update(
        {
            "FENXIAO_ENV": "production",
            "DATABASE_URL": url,
            "JWT_SECRET": secrets.token_urlsafe(48),
            "VISITOR_HASH_SALT": secrets.token_hex(16),
            "S2S_KEY_ENCRYPTION_KEY": encryption_key,
            "WECHAT_API_BASE": "http://127.0.0.1:9",
            "WECHAT_PAY_API_VERSION": "none",
        }
    )
    Sanic._app_registry.clear()
    app = create_app(settings=Settings.from_env(), manage_db=False)
    app.asgi = True
    await init_db(url)
    await app._startup()
    await app._server_event("init", "before")
    await app._server_event("init", "after")
    counter: Counter[str] = Counter()
    waits: Counter[str] = Counter()
    _count_statements(counter, waits)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:

            async def send(tag: str, index: int) -> None:
                key_id, timestamp, nonce, signature, body = signed_line(seeded, tag, index).split(
                    "\t"
                )
                response = await client.post(
                    PATH,
                    content=body,
                    headers={
                        "content-type": "application/json",
                        "x-fenxiao-key": key_id,
                        "x-fenxiao-timestamp": timestamp,
                        "x-fenxiao-nonce": nonce,
                        "x-fenxiao-signature": signature,
                        **({"prefer": "respond-async"} if respond_async else {}),
                    },
                )
                assert response.status_code == (202 if respond_async else 200), response.text

            for index in range(WARMUP_EVENTS):
                await send("warm", index)
            if drain:
                await drain_order_events()
                for index in range(events):
                    await send("plain", index)
            started = time.process_time()
            for index in range(events):
                await (drain_order_events(max_events=1) if drain else send("plain", index))
            plain_cpu = (time.process_time() - started) / events
            # (claim, pipelines) → [CPU, wall] per event, summed over the repeats.
            set_cost: dict[tuple[int, int], list[float]] = {}
            shapes = [(size, 1) for size in sorted({CLAIM_BATCH, *claims})]
            shapes += [(CLAIM_BATCH, n) for n in pipelines if n > 1]
            for repeat in range(REPEATS if drain else 0):
                for size, lanes in shapes:
                    for index in range(events):
                        await send(f"set{size}-{lanes}-{repeat}", index)
                    cpu_at, wall_at = time.process_time(), time.perf_counter()
                    done = await drain_order_events(claim=size, pipelines=lanes)
                    assert done["applied"] == events
                    cost = set_cost.setdefault((size, lanes), [0.0, 0.0])
                    cost[0] += (time.process_time() - cpu_at) / events / REPEATS
                    cost[1] += (time.perf_counter() - wall_at) / events / REPEATS
            if drain:
                for index in range(events):
                    await send("prof", index)
            counter.clear()
            waits.clear()
            # CPU time, not wall time: waits and preemption by MariaDB on a busy machine are not
            # what this looks for.
            profiler = cProfile.Profile(time.process_time)
            cpu, wall = time.process_time(), time.perf_counter()
            profiler.enable()
            if drain:
                assert (await drain_order_events())["applied"] == events
            else:
                for index in range(events):
                    await send("prof", index)
            profiler.disable()
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    finally:
        await Tortoise.close_connections()
    total = sum(counter.values())
    lines = [
        (
            f"{events} order.paid accepted, then drained: one per claim (the per-event path)"
            f" {plain_cpu * 1000:.2f} ms CPU each; set-based "
            + ", ".join(
                f"in claims of {n} × {p} pipeline(s) {c * 1000:.2f} ms CPU, {w * 1000:.2f} ms wall"
                for (n, p), (c, w) in set_cost.items()
            )
            + f" each (mean of {REPEATS} runs, in turn); in claims of {CLAIM_BATCH}"
            if drain
            else f"{events} order.paid{' (respond-async)' if respond_async else ''}:"
            f" {plain_cpu * 1000:.2f} ms CPU each (client included),"
        )
        + f" {cpu / events * 1000:.2f} ms under the profiler and"
        f" {wall / events * 1000:.2f} ms wall each; {total / events:.1f} statements each:",
        *(
            f"  {count / events:5.2f}  {statement}"
            + (f"  ({waits[statement] / count * 1000:.2f} ms each)" if waits[statement] else "")
            for statement, count in counter.most_common()
        ),
    ]
    profiler.dump_stats(out_path + ".prof")
    lines.append(_by_package(pstats.Stats(profiler), events))
    for order in ("cumulative", "tottime"):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(top)
        lines.append(out.getvalue())
    # The app logs to stdout and stderr: the report goes to its own file.
    Path(out_path).write_text("\n".join(lines) + "\n")


def _package(filename: str) -> str:
    """`aiomysql`, `server.services`, `asyncio`, … for a profiled function's file."""
    if "site-packages/" in filename:
        return filename.split("site-packages/", 1)[1].split("/", 1)[0]
    if "/server/" in filename:
        return "server." + filename.split("/server/", 1)[1].split("/", 1)[0].removesuffix(".py")
    if "/lib/python3" in filename:
        return "stdlib " + filename.rsplit("/", 1)[-1].removesuffix(".py")
    return filename


def _by_package(stats: pstats.Stats, events: int) -> str:
    """Own CPU time per package, per event (profiler overhead included), largest first."""
    totals: Counter[str] = Counter()
    for (filename, _line, _name), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        totals[_package(filename)] += tottime
    rows = [
        f"  {seconds / events * 1000:7.2f} ms  {name}" for name, seconds in totals.most_common(25)
    ]
    return "Own CPU time per event by package (under the profiler):\n" + "\n".join(rows) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.order_event_profile")
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--sqlite", action="store_true")
    parser.add_argument("--respond-async", action="store_true")
    parser.add_argument(
        "--drain",
        action="store_true",
        help="accept the events with respond-async, then profile the drainer applying them",
    )
    parser.add_argument(
        "--claims",
        type=lambda text: tuple(int(n) for n in text.split(",") if n),
        default=(),
        help="with --drain: claim sizes to time set-based besides the drainer's own",
    )
    parser.add_argument(
        "--pipelines",
        type=lambda text: tuple(int(n) for n in text.split(",") if n),
        default=(),
        help="with --drain: also time this many claim-and-apply pipelines at once",
    )
    parser.add_argument("--out", default="order_event_profile.txt", help="where the report goes")
    args = parser.parse_args()
    run_args = (
        args.events,
        args.top,
        args.out,
        args.respond_async,
        args.drain,
        args.claims,
        args.pipelines,
    )
    key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    if args.sqlite:
        url = f"sqlite://{tempfile.mkdtemp(prefix='order-profile-')}/db.sqlite3"
        asyncio.run(_run(url, key, *run_args))
        return
    from bench.order_event_setup import mysql_admin

    base = os.environ.get("BENCH_MYSQL_URL", "mysql://root:@127.0.0.1:3306")
    name = f"fenxiao_profile_orders_{secrets.token_hex(4)}"
    parts = urlsplit(base)
    url = urlunsplit((parts.scheme, parts.netloc, "/" + name, "", ""))
    asyncio.run(mysql_admin(base, f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    try:
        asyncio.run(_run(url, key, *run_args))
    finally:
        asyncio.run(mysql_admin(base, f"DROP DATABASE IF EXISTS `{name}`"))


if __name__ == "__main__":
    main()
