"""The order-event benchmark's set-up: the bare baseline app, the throwaway database and the
seeded program (bench/order_event_bench.py runs them)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from urllib.parse import urlsplit

from sanic import Request, Sanic
from sanic.response import HTTPResponse
from sanic.response import json as json_response

PATH = "/admin/v1/s2s/events"
BUYERS = 64


# ---------------------------------------------------------------- the bare baseline


def bare_app(database_url: str, pool_size: int) -> Sanic:
    """The baseline: the same route doing one autocommit INSERT through aiomysql."""
    import aiomysql

    app = Sanic("order_event_bench_bare")
    parts = urlsplit(database_url)

    @app.before_server_start
    async def open_pool(app: Sanic) -> None:
        app.ctx.pool = await aiomysql.create_pool(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 3306,
            user=parts.username or "root",
            password=parts.password or "",
            db=parts.path.lstrip("/"),
            autocommit=True,
            minsize=1,
            maxsize=pool_size,
        )

    @app.after_server_stop
    async def close_pool(app: Sanic) -> None:
        app.ctx.pool.close()
        await app.ctx.pool.wait_closed()

    @app.post(PATH)
    async def insert(request: Request) -> HTTPResponse:
        async with request.app.ctx.pool.acquire() as conn, conn.cursor() as cur:
            await cur.execute(
                "INSERT INTO bench_inserts (payload, created_at) VALUES (%s, NOW(6))",
                [request.body[:255].decode()],
            )
        return json_response({"ok": True})

    @app.get("/healthz")
    async def healthz(request: Request) -> HTTPResponse:
        return json_response({"status": "ok"})

    return app


def serve_bare(port: int, workers: int, database_url: str, pool_size: int) -> None:
    from sanic.worker.loader import AppLoader

    loader = AppLoader(factory=partial(bare_app, database_url, pool_size))
    app = loader.load()
    app.prepare(host="127.0.0.1", port=port, workers=workers, access_log=False)
    Sanic.serve(primary=app, app_loader=loader)


# ---------------------------------------------------------------- database


async def mysql_admin(url: str, sql: str) -> None:
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


@dataclass(frozen=True)
class Seed:
    program_id: int
    key_id: str
    secret: str
    buyer_openids: list[str]
    mariadb_version: str


async def seed(url: str, encryption_key: str) -> Seed:
    """Schema, the program (2 levels, rebate, a product rule), its chain, buyers and a key."""
    from tortoise import Tortoise
    from tortoise.transactions import in_transaction

    from server.auth import Principal
    from server.config import Settings
    from server.db import tortoise_config
    from server.models import CommissionRuleRecord, Promoter, User
    from server.services.access.api_keys import create_api_key
    from server.services.programs.settings import create_program
    from server.services.promoters.hierarchy import attach_promoter

    await Tortoise.init(config=tortoise_config(url))
    try:
        await Tortoise.generate_schemas(safe=True)
        conn = Tortoise.get_connection("default")
        await conn.execute_script(
            "CREATE TABLE bench_inserts (id BIGINT AUTO_INCREMENT PRIMARY KEY,"
            " payload VARCHAR(255) NOT NULL, created_at DATETIME(6) NOT NULL)"
        )
        version = (await conn.execute_query_dict("SELECT VERSION() AS v"))[0]["v"]
        admin = Principal(kind="staff", id=1, roles=frozenset({"admin"}))
        program = await create_program(
            document={
                "name": "Bench shop",
                "currency": "CNY",
                "max_levels": 2,
                "level_rates": ["10", "5"],
                "self_rebate_enabled": True,
                "self_rebate_rate": "3",
            },
            actor=admin,
        )
        await CommissionRuleRecord.create(
            program=program, kind="percent", value="15", level=1, product_id="SKU-RULE"
        )

        async def member(parent: Promoter | None, openid: str) -> Promoter:
            user = await User.create(appid="wx-standin-appid", openid=openid)
            profile = await Promoter.create(
                program=program, user=user, status="approved", invite_code=openid[:16]
            )
            async with in_transaction() as tx:
                await attach_promoter(
                    promoter_id=profile.id,
                    parent_id=parent.id if parent else None,
                    program_id=program.id,
                    conn=tx,
                )
            return profile

        top = await member(None, "bench-top")
        middle = await member(top, "bench-middle")
        nearest = await member(middle, "bench-nearest")
        openids = [f"bench-buyer-{i}" for i in range(BUYERS)]
        for openid in openids:
            await member(nearest, openid)
        settings = Settings(
            environment="bench", jwt_secret="b" * 48, s2s_key_encryption_key=encryption_key
        )
        issued = await create_api_key(
            program_id=program.id, name="bench", actor=admin, settings=settings
        )
        return Seed(program.id, issued.api_key.key_id, issued.secret, openids, str(version))
    finally:
        await Tortoise.close_connections()


async def count_rows(url: str) -> dict[str, int]:
    from tortoise import Tortoise

    from server.db import tortoise_config

    await Tortoise.init(config=tortoise_config(url))
    try:
        conn = Tortoise.get_connection("default")
        counts = {}
        for table in ("orders", "commissions", "bench_inserts"):
            rows = await conn.execute_query_dict(f"SELECT COUNT(*) AS n FROM {table}")
            counts[table] = int(rows[0]["n"])
        return counts
    finally:
        await Tortoise.close_connections()


def row_counter(url: str, table: str, *, where: str = "1 = 1") -> Callable[[], int]:
    """Counts the rows of `table` in the benchmark's database (those matching `where`)."""
    import pymysql

    parts = urlsplit(url)

    def count() -> int:
        conn = pymysql.connect(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 3306,
            user=parts.username or "root",
            password=parts.password or "",
            database=parts.path.lstrip("/"),
        )
        try:
            with conn.cursor() as cursor:
                cursor.execute(f"SELECT COUNT(*) FROM `{table}` WHERE {where}")
                return int(cursor.fetchone()[0])
        finally:
            conn.close()

    return count


def inbox_backlog(url: str) -> Callable[[], int]:
    """Counts the order events accepted with `Prefer: respond-async` and not applied yet."""
    return row_counter(url, "order_event_inbox", where="status <> 'done'")
