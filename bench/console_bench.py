"""Console pages on the hierarchy benchmark's tree: each page's server-side time beside the
admin API's time for the same data.

    .venv/bin/python -m bench.console_bench [--promoters N] [--samples N] [--no-write]

Creates its own database on BENCH_MYSQL_URL's server, bulk-loads the tree of
bench.hierarchy_data (one program, every promoter approved), starts the app in-process and
times whole requests through its ASGI interface (routing, guard, services, rendering), signed
in to the console with a session cookie and to the API with a bearer token. Writes the
"## Console pages" section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import httpx
from sanic import Sanic
from tortoise import Tortoise

from bench.hierarchy_data import (
    BENCH_URL,
    admin_sql,
    build_shape,
    bulk_load,
    person,
    write_files,
)
from bench.hierarchy_report import machine_line, save_section
from server import clock
from server.app import create_app
from server.config import Settings
from server.db import connection, tortoise_config
from server.models import (
    CommissionBoostRecord,
    MilestoneBonusRecord,
    PeriodCapRecord,
    Program,
    Promoter,
    PromoterTierRecord,
    SpendRecord,
    User,
)
from server.services.access.staff import create_staff_user

COMMAND = ".venv/bin/python -m bench.console_bench"
SECTION = "## Console pages"
TARGET_MS = 100.0
PASSWORD = "bench-console-password"
SUB_ACCOUNTS = 20


async def _timed(client: httpx.AsyncClient, path: str, headers: dict[str, str]) -> float:
    began = time.perf_counter()
    response = await client.get(path, headers=headers)
    elapsed = (time.perf_counter() - began) * 1000
    assert response.status_code == 200, f"{path}: {response.status_code} {response.text[:300]}"
    return elapsed


Request = str | tuple[str, ...]  # a tuple: the calls one page's figures take, timed summed


async def _one(client: httpx.AsyncClient, request: Request, headers: dict[str, str]) -> float:
    if isinstance(request, str):
        return await _timed(client, request, headers)
    return sum([await _timed(client, path, headers) for path in request])


async def _series(
    client: httpx.AsyncClient, paths: list[Request], headers: dict[str, str], samples: int
) -> list[float]:
    if not paths:  # a console page with no admin API route of its own
        return []
    for path in paths[:3]:  # warm-up: caches, pool connections, template compilation
        await _one(client, path, headers)
    return [await _one(client, paths[i % len(paths)], headers) for i in range(samples)]


def _p(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _started_app(url: str) -> Sanic:
    Sanic._app_registry.clear()
    app = create_app(
        settings=Settings(
            environment="test", database_url=url, wechat_api_base="http://127.0.0.1:9"
        ),
        manage_db=False,
    )
    app.asgi = True
    await app._startup()
    await app._server_event("init", "before")
    await app._server_event("init", "after")
    return app


async def _clients(app: Sanic) -> tuple[httpx.AsyncClient, dict[str, str]]:
    """A console client signed in as an admin, and the API's bearer header for the same one."""
    await create_staff_user(username="bench", password=PASSWORD, roles=["admin"], actor=None)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40002))
    client = httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=120)
    form = await client.get("/console/login")
    token = form.text.split('name="csrf_token" value="')[1].split('"')[0]
    signed = await client.post(
        "/console/login", data={"username": "bench", "password": PASSWORD, "csrf_token": token}
    )
    assert signed.status_code == 303, signed.text
    login = await client.post(
        "/admin/v1/auth/login", json={"username": "bench", "password": PASSWORD}
    )
    return client, {"authorization": f"Bearer {login.json()['access_token']}"}


async def run(*, total: int, samples: int, seed: int) -> str:
    rng = random.Random(seed)
    database = f"fenxiao_bench_{secrets.token_hex(4)}"
    await admin_sql(f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4")
    parts = urlsplit(BENCH_URL)
    url = urlunsplit((parts.scheme, parts.netloc, "/" + database, "", ""))
    try:
        await Tortoise.init(config=tortoise_config(url))
        await Tortoise.generate_schemas(safe=False)
        program = await Program.create(name="bench", currency="CNY")
        shape = build_shape(total, rng)
        with tempfile.TemporaryDirectory() as directory:
            paths, _ = write_files(shape, Path(directory))
            await bulk_load(database, paths, program.id)
        app = await _started_app(url)
        client, bearer = await _clients(app)
        p = program.id
        incentives, internal = await _configuration(p, rng)
        top = shape.top_roots[0]
        members = [rng.randrange(1, shape.size + 1) for _ in range(samples)]
        reports = f"/admin/v1/programs/{p}/reports"
        cases: list[tuple[str, list[Request], list[Request]]] = [
            (
                "dashboard, last 7 days (API: overview + funnel + top promoters + breakdown)",
                [f"/console/dashboard?program_id={p}"],
                [
                    (
                        f"{reports}/overview",
                        f"{reports}/funnel",
                        f"{reports}/top-promoters",
                        f"{reports}/breakdown?dimension=site&limit=10",
                    )
                ],
            ),
            (
                "customers report, last 7 days",
                [f"/console/reports/customers?program_id={p}"],
                [f"{reports}/customers"],
            ),
            (
                "promoter list, newest first (50 rows)",
                [f"/console/promoters?program_id={p}"],
                [f"/admin/v1/promoters?program_id={p}"],
            ),
            (
                "promoter list, name search: a surname (张, ~7% of promoters)",
                [f"/console/promoters?program_id={p}&q=%E5%BC%A0"],
                [f"/admin/v1/promoters?program_id={p}&q=%E5%BC%A0"],
            ),
            (
                "promoter list, name search: a whole name",
                [f"/console/promoters?program_id={p}&q={quote(person(m)[0])}" for m in members],
                [f"/admin/v1/promoters?program_id={p}&q={quote(person(m)[0])}" for m in members],
            ),
            (
                "promoter list, phone search: the last four digits",
                [f"/console/promoters?program_id={p}&q={person(m)[1][-4:]}" for m in members],
                [f"/admin/v1/promoters?program_id={p}&q={person(m)[1][-4:]}" for m in members],
            ),
            (
                "promoter list, phone search: a whole number",
                [f"/console/promoters?program_id={p}&q={person(m)[1]}" for m in members],
                [f"/admin/v1/promoters?program_id={p}&q={person(m)[1]}" for m in members],
            ),
            (
                "promoter page, the head of the largest team",
                [f"/console/promoters/{top}"],
                [f"/admin/v1/promoters/{top}", f"/admin/v1/promoters/{top}/team"],
            ),
            (
                "promoter page, random promoter",
                [f"/console/promoters/{m}" for m in members],
                [f"/admin/v1/promoters/{m}" for m in members],
            ),
            ("programs", ["/console/programs"], ["/admin/v1/programs"]),
            (
                "orders",
                [f"/console/orders?program_id={p}"],
                [f"/admin/v1/orders?program_id={p}"],
            ),
            (
                "commissions",
                [f"/console/commissions?program_id={p}"],
                [f"/admin/v1/commissions?program_id={p}"],
            ),
            (
                "withdrawals",
                [f"/console/withdrawals?program_id={p}"],
                [f"/admin/v1/withdrawals?program_id={p}"],
            ),
            ("audit log", [f"/console/audit?program_id={p}"], [f"/admin/v1/audit?program_id={p}"]),
            *_configuration_cases(p, incentives, internal),
        ]
        rows = []
        load_before = os.getloadavg()[0]
        for name, console_paths, api_paths in cases:
            console = await _series(client, console_paths, {}, samples)
            api = await _series(client, api_paths, bearer, samples)
            rows.append((name, console, api))
            print(name, round(statistics.median(console), 1), flush=True)
        version = (await connection().execute_query_dict("SELECT VERSION() AS v"))[0]["v"]
        await client.aclose()
        return _render(total, samples, rows, machine_line(version), load_before)
    finally:
        await Tortoise.close_connections()
        await admin_sql(f"DROP DATABASE IF EXISTS `{database}`")


async def _configuration(program_id: int, rng: random.Random) -> tuple[dict[str, int], int]:
    """Tiers, a boost, a bonus and a cap on the bench program, and an internal program with
    sub-accounts and 90 days of spend: what the configuration and internal pages read."""
    now = clock.now()
    window = {"starts_at": now - timedelta(days=10), "ends_at": now + timedelta(days=20)}
    for rank, code in enumerate(("silver", "gold"), start=1):
        await PromoterTierRecord.create(program_id=program_id, code=code, name=code, rank=rank)
    boost = await CommissionBoostRecord.create(program_id=program_id, multiplier="1.5", **window)
    bonus = await MilestoneBonusRecord.create(
        program_id=program_id, target_net_sales="1000.00", amount="50.00", **window
    )
    cap = await PeriodCapRecord.create(program_id=program_id, period="month", amount="500.00")
    own = await Program.create(name="bench internal", currency="CNY", kind="internal")
    subs = []
    for n in range(SUB_ACCOUNTS):
        user = await User.create(appid="internal", openid=f"sub:bench:{n}", nickname=f"team {n}")
        subs.append(
            await Promoter.create(
                program_id=own.id, user_id=user.id, status="approved", real_name=f"team {n}"
            )
        )
    await SpendRecord.bulk_create(
        [
            SpendRecord(
                program_id=own.id,
                day=(now - timedelta(days=day)).date(),
                promoter_id=rng.choice(subs).id,
                amount=Decimal(rng.randrange(100, 10_000)) / 100,
                currency="CNY",
                note="",
                created_by=1,
                created_at=now,
            )
            for day in range(90)
            for _ in range(SUB_ACCOUNTS)
        ]
    )
    return {"boost": boost.id, "bonus": bonus.id, "cap": cap.id, "sub": subs[0].id}, own.id


def _configuration_cases(
    p: int, ids: dict[str, int], own: int
) -> list[tuple[str, list[Request], list[Request]]]:
    reports = f"/admin/v1/programs/{own}/reports"
    return [
        ("tiers", [f"/console/tiers?program_id={p}"], [f"/admin/v1/programs/{p}/tiers"]),
        (
            "boosts and bonuses",
            [f"/console/incentives?program_id={p}"],
            [(f"/admin/v1/programs/{p}/boosts", f"/admin/v1/programs/{p}/milestone-bonuses")],
        ),
        (
            "boost edit page",
            [f"/console/boosts/{ids['boost']}"],
            [f"/admin/v1/boosts/{ids['boost']}"],
        ),
        (
            "bonus edit page",
            [f"/console/milestone-bonuses/{ids['bonus']}"],
            [f"/admin/v1/milestone-bonuses/{ids['bonus']}"],
        ),
        (
            "bonus awards",
            [f"/console/bonus-awards?program_id={p}"],
            [f"/admin/v1/programs/{p}/bonus-awards"],
        ),
        ("period caps", [f"/console/caps?program_id={p}"], [f"/admin/v1/programs/{p}/period-caps"]),
        (
            "period cap edit page",
            [f"/console/caps/{ids['cap']}"],
            [f"/admin/v1/period-caps/{ids['cap']}"],
        ),
        (
            "leaderboard, this month",
            [f"/console/leaderboard?program_id={p}"],
            [f"/admin/v1/programs/{p}/leaderboard"],
        ),
        (
            f"sub-accounts ({SUB_ACCOUNTS})",
            [f"/console/sub-accounts?program_id={own}"],
            [f"/admin/v1/programs/{own}/sub-accounts"],
        ),
        (
            "sub-account page (links, codes)",
            [f"/console/sub-accounts/{ids['sub']}"],
            [f"/admin/v1/programs/{own}/sub-accounts"],
        ),
        ("spend (50 rows, no API list)", [f"/console/spend?program_id={own}"], []),
        (
            "ROI, last 7 days (API: overview + 3 breakdowns)",
            [f"/console/roi?program_id={own}"],
            [
                (
                    f"{reports}/overview",
                    f"{reports}/breakdown?dimension=promoter",
                    f"{reports}/breakdown?dimension=channel",
                    f"{reports}/breakdown?dimension=utm_campaign",
                )
            ],
        ),
    ]


def _render(
    total: int,
    samples: int,
    rows: list[tuple[str, list[float], list[float]]],
    machine: str,
    load_before: float,
) -> str:
    slowest = max(_p(console, 0.5) for _, console, _ in rows)
    verdict = "met" if slowest <= TARGET_MS else "NOT met"
    lines = [
        SECTION,
        "",
        f"`{COMMAND} --promoters {total}`, run {time.strftime('%Y-%m-%d')}. {machine}",
        "",
        f"The hierarchy benchmark's tree of {total:,} promoters in one program (all approved,"
        " each with a generated Chinese name, surnames in their mainland shares, and mobile);"
        " orders, commissions, withdrawals and audit tables empty. Each figure is one whole"
        " request through the app's ASGI interface (routing, guard, services, rendering), the"
        f" console signed in by cookie, the API by bearer token; {samples} samples each after"
        " a warm-up. The API column for a promoter page is the detail and, for the largest"
        " team, also the team route the page's figures come from, taken in turn; for the"
        " dashboard, the four report calls its figures come from, summed. The report tables"
        " are empty here: bench/report_bench.py times the reports on a million visits.",
        "",
        f"1-minute load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after.",
        "",
        "| page | console p50 | console p95 | API p50 | API p95 |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, console, api in rows:
        lines.append(
            f"| {name} | {_p(console, 0.5):.1f} ms | {_p(console, 0.95):.1f} ms"
            + (f" | {_p(api, 0.5):.1f} ms | {_p(api, 0.95):.1f} ms |" if api else " | — | — |")
        )
    lines += [
        "",
        f"Target: every page ≤ {TARGET_MS:.0f} ms p50 — {verdict} (slowest {slowest:.1f} ms).",
        "",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--promoters", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=60)
    parser.add_argument("--seed", type=int, default=20240101)
    parser.add_argument("--no-write", action="store_true", help="print, leave RESULTS.md alone")
    args = parser.parse_args()
    logging.disable(logging.INFO)
    section = asyncio.run(run(total=args.promoters, samples=args.samples, seed=args.seed))
    print(section)
    if not args.no_write:
        save_section(section, heading=SECTION)


if __name__ == "__main__":
    sys.exit(main())
