"""Raw rows for the report benchmark (visits, orders, lines, commissions over N days),
written as TSV and bulk-loaded with LOAD DATA. This module holds no measurements."""

from __future__ import annotations

import hashlib
import json
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiomysql

from bench.hierarchy_data import _Parts, _server

# The data ends at local midnight of 1 April 2026 in Shanghai; days count back from there.
END = datetime(2026, 3, 31, 16, tzinfo=UTC)
PROMOTERS = 5000
SITES = 5
CHANNELS = 200
PRODUCTS = 300
CATEGORIES = 20
UTM_SOURCES = ("wechat", "weibo", "douyin", "xhs", "poster", "email")
UTM_MEDIUMS = ("social", "cpc", "offline", "newsletter")
UTM_CAMPAIGNS = tuple(f"campaign-{i}" for i in range(20))
REACHED_BY = ("link", "qr", "code")
NULL = "\\N"
# Lines per LOAD DATA file: a visit line is ~170 bytes, and a file must stay well under the
# server's max_allowed_packet (16 MiB) as aiomysql sends it.
LINES_PER_FILE = 50_000


class _Files(_Parts):
    """bench.hierarchy_data's part files, with fewer (longer) lines per file."""

    def write(self, line: str) -> None:
        if self.file is not None and self.lines >= LINES_PER_FILE:
            self.close()
            self.file = None
        super().write(line)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def _promoter(rng: random.Random) -> int:
    # A few promoters bring most traffic: a Pareto-shaped pick over 1..PROMOTERS.
    return min(PROMOTERS, int(rng.paretovariate(1.2)))


def _maybe(rng: random.Random, values: tuple[str, ...], share: float) -> str:
    return rng.choice(values) if rng.random() < share else NULL


def write_visits(directory: Path, *, count: int, days: int, rng: random.Random) -> list[Path]:
    parts = _Files(directory, "visits")
    span = days * 86400
    visitors = max(1, count // 3)
    for _ in range(count):
        at = END - timedelta(seconds=rng.random() * span)
        visitor = hashlib.sha256(str(rng.randrange(visitors)).encode()).hexdigest()
        channel = str(rng.randint(1, CHANNELS)) if rng.random() < 0.3 else NULL
        parts.write(
            "\t".join(
                (
                    str(_promoter(rng)),
                    channel,
                    str(rng.randint(1, SITES)),
                    _maybe(rng, UTM_SOURCES, 0.4),
                    _maybe(rng, UTM_MEDIUMS, 0.4),
                    _maybe(rng, UTM_CAMPAIGNS, 0.3),
                    visitor,
                    "1" if rng.random() < 0.03 else "0",
                    rng.choice(REACHED_BY),
                    _stamp(at),
                )
            )
            + "\n"
        )
    parts.close()
    return parts.paths


def write_orders(
    directory: Path, *, count: int, days: int, rng: random.Random
) -> dict[str, list[Path]]:
    """Orders with one line each and three commissions each (levels 0, 1 and 2)."""
    parts = {name: _Files(directory, name) for name in ("orders", "lines", "commissions")}
    span = days * 86400
    buyers = max(1, count // 2)
    statuses = ("paid",) * 14 + ("completed",) * 4 + ("refunded", "cancelled")
    commission_statuses = ("pending", "approved", "settled", "paid")
    for order_id in range(1, count + 1):
        paid_at = _stamp(END - timedelta(seconds=rng.random() * span))
        status = rng.choice(statuses)
        total = rng.randint(1000, 100_000)  # cents
        refunded = (
            total
            if status == "refunded"
            else (rng.randint(0, total // 2) if rng.random() < 0.1 else 0)
        )
        money = f"{total / 100:.2f}"
        back = f"{refunded / 100:.2f}"
        promoter = _promoter(rng)
        attribution = json.dumps(
            {
                "attribution": {
                    "winner": "binding",
                    "binding": {"channel_id": rng.randint(1, CHANNELS), "reached_by": "link"},
                }
            }
        )
        parts["orders"].write(
            "\t".join(
                (
                    str(order_id), f"E{order_id}", status, money, back,
                    str(CHANNELS + rng.randrange(buyers)), str(promoter),
                    str(rng.randint(1, SITES)),
                    rng.choice(UTM_CAMPAIGNS), attribution, paid_at,
                )
            )
            + "\n"
        )  # fmt: skip
        parts["lines"].write(
            f"{order_id}\t{order_id}\tP{rng.randrange(PRODUCTS)}\tC{rng.randrange(CATEGORIES)}"
            f"\t{money}\t{back}\n"
        )
        for level in range(3):
            earns = (total - refunded) * (10 - 3 * level) // 100
            live = rng.choice(commission_statuses)
            dead = status in ("cancelled", "refunded")
            parts["commissions"].write(
                "\t".join(
                    (
                        str(order_id), str(order_id), str(_promoter(rng)), str(level),
                        "rejected" if dead else live, f"{earns / 100:.2f}",
                        f"{total * (10 - 3 * level) // 100 / 100:.2f}", money, paid_at,
                    )
                )
                + "\n"
            )  # fmt: skip
    for part in parts.values():
        part.close()
    return {name: part.paths for name, part in parts.items()}


LOADS = {
    "visits": "INTO TABLE visits (promoter_id, channel_id, site_id, utm_source, utm_medium,"
    " utm_campaign, visitor_hash, is_bot, reached_by, at) SET program_id = {program},"
    " source = 'h5'",
    "orders": "INTO TABLE orders (id, external_id, status, total_amount, refunded_amount,"
    " buyer_user_id, attributed_promoter_id, site_id, campaign, attribution, @paid)"
    " SET program_id = {program}, currency = 'CNY', placed_at = @paid, paid_at = @paid,"
    " created_at = @paid, updated_at = @paid",
    "lines": "INTO TABLE order_lines (id, order_id, product_id, category, amount,"
    " refunded_amount) SET line_ref = 'L1', quantity = 1, unit_price = amount",
    "commissions": "INTO TABLE commissions (order_id, order_line_id, promoter_id, level, status,"
    " amount, original_amount, line_amount, @at) SET program_id = {program}, currency = 'CNY',"
    " kind = 'percent', quantity = 1, base_amount = line_amount, rule_source = 'program_level',"
    " settled_amount = 0, snapshot = '{{}}', explanation = '{{}}', upline_snapshot = '[]',"
    " created_at = @at, updated_at = @at",
}


async def bulk_load(
    database: str, paths: dict[str, list[Path]], program_id: int
) -> dict[str, float]:
    """LOAD DATA every file into its table; seconds per table."""
    timings: dict[str, float] = {}
    conn = await aiomysql.connect(**_server(database), local_infile=True)
    try:
        async with conn.cursor() as cur:
            await cur.execute("SET SESSION unique_checks = 0, foreign_key_checks = 0")
            for name, target in LOADS.items():
                began = time.perf_counter()
                for path in paths[name]:
                    await cur.execute(
                        f"LOAD DATA LOCAL INFILE '{path}' " + target.format(program=program_id)
                    )
                timings[f"load {name}"] = time.perf_counter() - began
            await cur.execute(
                "INSERT INTO promoters (id, program_id, user_id, status, tier, applied_at,"
                " updated_at) SELECT seq, %s, seq, 'approved', ELT(1 + seq %% 3, 'default',"
                " 'silver', 'gold'), NOW(), NOW() FROM seq_1_to_" + str(PROMOTERS),
                [program_id],
            )
            await cur.execute("ANALYZE TABLE visits, orders, order_lines, commissions, promoters")
            await cur.fetchall()
    finally:
        conn.close()
    return timings
