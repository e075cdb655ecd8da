"""Ingest with report marks on against off: visit batches (P1) and signed order.paid events
(P2) through the real code, in alternating rounds, so background load hits both alike.

    .venv/bin/python -m bench.report_ingest_bench [--rounds 6] [--batches 20] [--events 60]
        [--no-write]

Seeds bench/order_event_setup.py's program in a throwaway MariaDB database (BENCH_MYSQL_URL,
dropped after). P1: `write_visits` (what the visit buffer's flush calls) with batches of 500
anonymous visits. P2: order.paid through the app in-process (sanic's ASGI client: route, S2S
guard, the use case), one after the other. "Off" swaps the one mark call of each path for a
no-op for that round. Writes the "## Report marks" section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import logging
import math
import os
import secrets
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from bench.hierarchy_report import machine_line, save_section

COMMAND = ".venv/bin/python -m bench.report_ingest_bench"
BATCH = 500


async def _no_mark(**_: Any) -> None:
    return None


@contextmanager
def marks(on: bool) -> Iterator[None]:
    """Report marks as shipped (on), or each path's mark call replaced by a no-op (off)."""
    from server.services.orders import events
    from server.services.sharing import visits

    saved = (visits.mark_instants, events.mark_order)
    if not on:
        visits.mark_instants, events.mark_order = _no_mark, _no_mark  # type: ignore[assignment]
    try:
        yield
    finally:
        visits.mark_instants, events.mark_order = saved


async def _timed(
    call: Callable[[int], Awaitable[None]], count: int, start: int
) -> tuple[float, float]:
    """Wall seconds and this process's CPU seconds of `count` calls."""
    began, cpu = time.perf_counter(), time.process_time()
    for index in range(start, start + count):
        await call(index)
    return time.perf_counter() - began, time.process_time() - cpu


async def _run(url: str, key: str, rounds: int, batches: int, events: int) -> str:
    import httpx
    from sanic import Sanic
    from tortoise import Tortoise

    from bench.order_event_load import signed_line
    from bench.order_event_setup import PATH, seed
    from server.app import create_app
    from server.config import Settings
    from server.db import connection, init_db
    from server.models import Promoter
    from server.services.sharing.visit_buffer import PendingVisit
    from server.services.sharing.visits import write_visits

    seeded = await seed(url, key)
    os.environ.update(
        {
            "FENXIAO_ENV": "production",
            "DATABASE_URL": url,
            "JWT_SECRET": secrets.token_urlsafe(48),
            "VISITOR_HASH_SALT": secrets.token_hex(16),
            "S2S_KEY_ENCRYPTION_KEY": key,
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
    logging.disable(logging.INFO)  # the access log of every request
    promoter = await Promoter.filter(program_id=seeded.program_id).order_by("id").first()
    assert promoter is not None
    now = datetime.now(UTC)
    load_before = os.getloadavg()[0]

    async def visit_batch(index: int) -> None:
        await write_visits(
            [
                PendingVisit(
                    seeded.program_id, promoter.id, None, None, None, None, None, None,
                    "wechat", None, None, f"v{index}-{i}", None, None, False, "h5", "link",
                    now - timedelta(seconds=i),
                )
                for i in range(BATCH)
            ]
        )  # fmt: skip

    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
    times: dict[tuple[str, bool], list[float]] = {}
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:

            async def order_paid(index: int, tag: str = "r") -> None:
                key_id, stamp, nonce, signature, body = signed_line(seeded, tag, index).split("\t")
                response = await client.post(
                    PATH,
                    content=body,
                    headers={
                        "content-type": "application/json",
                        "x-fenxiao-key": key_id,
                        "x-fenxiao-timestamp": stamp,
                        "x-fenxiao-nonce": nonce,
                        "x-fenxiao-signature": signature,
                    },
                )
                assert response.status_code == 200, response.text

            for index in range(10):  # warm-up
                await order_paid(index, "warm")
                await visit_batch(-1 - index)
            visits_done = events_done = 0
            for number in range(rounds):
                # Alternate which goes first, so neither always follows the other.
                for on in (True, False) if number % 2 == 0 else (False, True):
                    with marks(on):
                        spent, cpu = await _timed(visit_batch, batches, visits_done)
                        times.setdefault(("visits", on), []).append(batches * BATCH / spent)
                        times.setdefault(("visits cpu", on), []).append(cpu / batches * 1000)
                        visits_done += batches
                        spent, cpu = await _timed(order_paid, events, events_done)
                        times.setdefault(("orders", on), []).append(events / spent)
                        times.setdefault(("orders cpu", on), []).append(cpu / events * 1000)
                        events_done += events
                print(number, {k: round(v[-1], 1) for k, v in times.items()}, flush=True)
        marks_rows = (
            await connection().execute_query_dict("SELECT COUNT(*) AS n FROM report_marks")
        )[0]["n"]
    finally:
        await Tortoise.close_connections()
    return _report(times, rounds, batches, events, seeded.mariadb_version, load_before, marks_rows)


def _mean_sd(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def _figure(values: list[float], unit: str) -> str:
    mean, spread = _mean_sd(values)
    places = 1 if unit == "ms" else 0
    return f"{mean:,.{places}f} ± {spread:,.{places}f} {unit}"


def _report(
    times: dict[tuple[str, bool], list[float]],
    rounds: int,
    batches: int,
    events: int,
    version: str,
    load_before: float,
    marks_rows: int,
) -> str:
    verdicts: list[str] = []

    def line(name: str, kind: str, unit: str, *, rate: bool = True) -> str:
        on, off = times[(kind, True)], times[(kind, False)]
        # Each round's on against its own off: both ran back to back under the same load.
        changes = [(a / b - 1) * 100 for a, b in zip(on, off, strict=True)]
        mean, spread = _mean_sd(changes)
        half = 2 * spread / math.sqrt(len(changes))  # ~95 % interval of the mean change
        if rate:
            verdict = "met" if mean - half >= -10 else ("NOT met" if mean + half < -10 else "open")
            verdicts.append(f"{name}: {verdict}")
        return (
            f"| {name} | {_figure(off, unit)} | {_figure(on, unit)} | {mean:+.1f} ± {spread:.1f} %"
            f" | {mean - half:+.1f} … {mean + half:+.1f} % |"
        )

    rows = [
        line("P1 visits (batches of 500)", "visits", "visits/s"),
        line("P2 order.paid (concurrency 1)", "orders", "events/s"),
        line("P1 client CPU per batch of 500", "visits cpu", "ms", rate=False),
        line("P2 client CPU per order.paid", "orders cpu", "ms", rate=False),
    ]

    return "\n".join(
        [
            "## Report marks",
            "",
            f"`{COMMAND} {' '.join(sys.argv[1:])}`, run {datetime.now(UTC).date()}: {rounds}"
            f" rounds, each with marks on and off in turn (the order alternating); a round"
            f" writes {batches} batches of {BATCH} visits through `write_visits` and sends"
            f" {events} signed order.paid one after the other through the app in-process.",
            "",
            f"Machine: {machine_line(version)} 1-minute load average {load_before:.1f} before,"
            f" {os.getloadavg()[0]:.1f} after.",
            "",
            "Per path: the mean ± standard deviation over the rounds with marks off and on, the"
            " change of each round's on against its own off (mean ± standard deviation), and"
            " the ~95 % interval of that mean (± 2 standard errors).",
            "",
            "| path | marks off | marks on | change per round | ~95 % interval |",
            "|---|---:|---:|---:|---:|",
            *rows,
            "",
            f"{marks_rows:,} marks were left for the refresh job (no refresh ran). The target is"
            " a drop of at most 10 %: met where the whole interval is above −10 %, not met where"
            " it is below, open where it straddles it. " + "; ".join(verdicts) + ".",
            "",
            "",  # a blank line before the next section
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--events", type=int, default=60)
    parser.add_argument("--no-write", action="store_true", help="print, leave RESULTS.md alone")
    args = parser.parse_args()
    from bench.order_event_setup import mysql_admin

    key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    base = os.environ.get("BENCH_MYSQL_URL", "mysql://root:@127.0.0.1:3306")
    name = f"fenxiao_bench_marks_{secrets.token_hex(4)}"
    parts = urlsplit(base)
    url = urlunsplit((parts.scheme, parts.netloc, "/" + name, "", ""))
    asyncio.run(mysql_admin(base, f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    try:
        section = asyncio.run(_run(url, key, args.rounds, args.batches, args.events))
    finally:
        asyncio.run(mysql_admin(base, f"DROP DATABASE IF EXISTS `{name}`"))
    print(section)
    if not args.no_write:
        save_section(section, heading="## Report marks")


if __name__ == "__main__":
    main()
