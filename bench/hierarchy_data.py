"""The benchmark's tree: a million promoters generated in memory and bulk-loaded with
LOAD DATA (closure rows and team counts included, consistent by construction)."""

from __future__ import annotations

import os
import random
import time
from array import array
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

import aiomysql

from server.db import connection
from server.domain.promoters.search import name_key, phone_digits, phone_reversed
from server.services.promoters import hierarchy

BENCH_URL = os.environ.get("BENCH_MYSQL_URL", "mysql://root:@127.0.0.1:3306")
TOP_TEAMS = (150_000, 130_000, 120_000, 110_000, 100_000, 90_000, 80_000, 70_000)
LIEUTENANTS = 15  # direct members of each popular upline: each heads a ~1/15 share
SECOND_LEVEL, THIRD_LEVEL = 0.01, 0.19  # shares of a popular team; the rest is level 4
CHAINS, CHAIN_DEPTHS = 1_000, (30, 60)
TEAM3, TEAM4, CHAIN, SMALL = range(4)
PART_LINES = 100_000  # a promoter line with its name, phone and keys is ~100 bytes
NICKNAMES = ("张伟", "王芳", "李娜", "刘洋", "陈静", "Alice", "Bob", "Chen", "小明", "Lily")
# Surnames with their share per thousand of mainland people (the rest share the last 18), so
# a search for 张 matches about 7% of the program, as it would.
SURNAMES = (
    ("王", 71),
    ("李", 70),
    ("张", 68),
    ("刘", 54),
    ("陈", 45),
    ("杨", 30),
    ("黄", 22),
    ("赵", 20),
    ("吴", 19),
    ("周", 17),
    ("徐", 15),
    ("孙", 15),
    ("马", 13),
    ("朱", 13),
    ("胡", 12),
    ("郭", 11),
    ("何", 11),
    ("高", 10),
    ("林", 10),
    ("罗", 9),
)
OTHER_SURNAMES = "郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕彬"


@dataclass
class Shape:
    """The generated tree: parents[i] is promoter i's upline (0 = a root); ids start at 1."""

    parents: array = field(default_factory=lambda: array("q", [0]))
    depths: array = field(default_factory=lambda: array("h", [0]))
    top_roots: list[int] = field(default_factory=list)
    levels: list[dict[int, list[int]]] = field(default_factory=list)  # per popular team
    chain_tails: list[int] = field(default_factory=list)
    small_trees: int = 0

    def add(self, parent: int) -> int:
        self.parents.append(parent)
        self.depths.append(self.depths[parent] + 1 if parent else 0)
        return len(self.parents) - 1

    @property
    def size(self) -> int:
        return len(self.parents) - 1


def build_shape(total: int, rng: random.Random) -> Shape:
    """Popular teams 1–4 deep, 30–60 deep chains, and many small trees, ids in join order."""
    scale = total / 1_000_000
    shape = Shape()
    sizes = [max(LIEUTENANTS * 8, int(s * scale)) for s in TOP_TEAMS]
    for _ in sizes:
        shape.top_roots.append(shape.add(0))
        shape.levels.append({0: [shape.top_roots[-1]]})

    def place(team: int, level: int) -> None:
        levels = shape.levels[team]
        if not levels.get(level - 1):
            level -= 1  # too early for this depth: join one level up instead
        levels.setdefault(level, []).append(shape.add(rng.choice(levels[level - 1])))

    seeds = [(t, 1) for t in range(len(sizes)) for _ in range(LIEUTENANTS)]
    seeds += [(t, 2) for t, n in enumerate(sizes) for _ in range(int(n * SECOND_LEVEL))]
    rng.shuffle(seeds)
    for team, level in sorted(seeds, key=lambda seed: seed[1]):
        place(team, level)
    events: list[tuple[int, int]] = []
    for team, n in enumerate(sizes):
        placed = sum(len(members) for members in shape.levels[team].values()) - 1
        third = int(n * THIRD_LEVEL)
        events += [(TEAM3, team)] * third + [(TEAM4, team)] * (n - placed - third)
    chain_lengths = [rng.randint(*CHAIN_DEPTHS) + 1 for _ in range(max(1, int(CHAINS * scale)))]
    events += [(CHAIN, c) for c, length in enumerate(chain_lengths) for _ in range(length)]
    small: list[int] = []
    remaining = total - shape.size - len(events)
    while remaining > 0:
        small.append(min(remaining, rng.randint(1, 7)))
        remaining -= small[-1]
    events += [(SMALL, s) for s, n in enumerate(small) for _ in range(n)]
    rng.shuffle(events)
    tails = [0] * len(chain_lengths)
    small_parents: list[list[int]] = [[] for _ in small]
    for kind, k in events:
        if kind in (TEAM3, TEAM4):
            place(k, 3 if kind == TEAM3 else 4)
        elif kind == CHAIN:
            tails[k] = shape.add(tails[k])
        elif not small_parents[k]:
            small_parents[k].append(shape.add(0))
        else:
            member = shape.add(rng.choice(small_parents[k]))
            if shape.depths[member] < 2:
                small_parents[k].append(member)
    shape.chain_tails, shape.small_trees = tails, len(small)
    assert shape.size == total, (shape.size, total)
    return shape


class _Parts:
    """Lines split into files of at most PART_LINES: aiomysql sends a LOAD DATA LOCAL file in
    16 MiB packets, which the server's default max_allowed_packet (16 MiB) refuses."""

    def __init__(self, directory: Path, name: str) -> None:
        self.directory, self.name = directory, name
        self.paths: list[Path] = []
        self.lines = 0
        self.file: TextIO | None = None

    def write(self, line: str) -> None:
        if self.file is None or self.lines >= PART_LINES:
            self.close()
            self.paths.append(self.directory / f"{self.name}.{len(self.paths)}.tsv")
            self.file, self.lines = self.paths[-1].open("w"), 0
        self.file.write(line)
        self.lines += 1

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


def _surname_table() -> str:
    table = "".join(name * share for name, share in SURNAMES)
    rest = 1000 - len(table)
    return table + "".join(OTHER_SURNAMES[i % len(OTHER_SURNAMES)] for i in range(rest))


SURNAME_TABLE = _surname_table()


def person(member: int) -> tuple[str, str]:
    """A member's name and mainland mobile, the same for the same id on every run."""
    mixed = (member * 2_654_435_761) % 4_294_967_296  # Knuth's multiplicative hash
    surname = SURNAME_TABLE[mixed % 1000]
    given = GIVEN[(mixed >> 10) % len(GIVEN)]
    if mixed % 3:
        given += GIVEN[(mixed >> 16) % len(GIVEN)]
    return surname + given, f"1{3 + member % 7}{(member * 7_919) % 1_000_000_000:09d}"


def write_files(shape: Shape, directory: Path) -> tuple[dict[str, list[Path]], int]:
    """Tab-separated files for LOAD DATA; returns them and the closure row count."""
    parts = {name: _Parts(directory, name) for name in ("users", "promoters", "closure")}
    start = datetime(2024, 1, 1, tzinfo=UTC)
    links = 0
    for member in range(1, shape.size + 1):
        joined = (start + timedelta(seconds=member * 20)).strftime("%Y-%m-%d %H:%M:%S")
        nickname = NICKNAMES[member % len(NICKNAMES)]
        parts["users"].write(f"{member}\to{member:09d}\t{nickname}\t{joined}\n")
        parent = shape.parents[member]
        name, phone = person(member)
        keys = f"{name_key(name)}\t{phone_digits(phone)}\t{phone_reversed(phone)}"
        parts["promoters"].write(
            f"{member}\t{parent or chr(92) + 'N'}\t{joined}\t{name}\t{phone}\t{keys}\n"
        )
        depth = 1
        while parent:
            parts["closure"].write(f"{parent}\t{member}\t{depth}\n")
            parent, depth = shape.parents[parent], depth + 1
            links += 1
    for part in parts.values():
        part.close()
    return {name: part.paths for name, part in parts.items()}, links


LOADS = {
    "users": "INTO TABLE users (id, openid, nickname, created_at) SET appid = 'wx-bench'",
    "promoters": "INTO TABLE promoters (id, parent_id, @joined, real_name, phone, name_key,"
    " phone_digits, phone_reversed) SET user_id = id,"
    " program_id = {program}, status = 'approved', tier = 'default',"
    " applied_at = @joined, decided_at = @joined, updated_at = @joined",
    "closure": "INTO TABLE promoter_closure (ancestor_id, descendant_id, depth)",
}


def _server(database: str = "") -> dict[str, Any]:
    parts = urlsplit(BENCH_URL)
    return {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 3306,
        "user": parts.username or "root",
        "password": parts.password or "",
        "db": database or None,
        "autocommit": True,
    }


async def admin_sql(sql: str) -> None:
    conn = await aiomysql.connect(**_server())
    try:
        async with conn.cursor() as cur:
            await cur.execute(sql)
    finally:
        conn.close()


async def bulk_load(
    database: str, paths: dict[str, list[Path]], program_id: int
) -> dict[str, float]:
    """LOAD DATA into the empty tables (MariaDB then sorts each index once), counts by SQL."""
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
            began = time.perf_counter()
            await cur.execute(
                "INSERT INTO team_counts (ancestor_id, depth, member_count)"
                " SELECT ancestor_id, depth, COUNT(*) FROM promoter_closure"
                " GROUP BY ancestor_id, depth"
            )
            timings["team counts (INSERT … SELECT … GROUP BY)"] = time.perf_counter() - began
            began = time.perf_counter()
            await cur.execute("ANALYZE TABLE users, promoters, promoter_closure, team_counts")
            await cur.fetchall()
            timings["analyze"] = time.perf_counter() - began
    finally:
        conn.close()
    return timings


def largest_team(shape: Shape) -> int:
    return max(range(len(shape.top_roots)), key=lambda t: sum(map(len, shape.levels[t].values())))


async def describe(shape: Shape, links: int, database: str) -> tuple[list[str], float]:
    """The data shape, as recorded beside the figures, and the MiB its tables take."""
    team_sizes = [await hierarchy.team_size(promoter_id=root) for root in shape.top_roots]
    biggest = shape.levels[largest_team(shape)]
    chain_depths = [shape.depths[tail] for tail in shape.chain_tails]
    roots = sum(1 for member in range(1, shape.size + 1) if not shape.parents[member])
    tables = await connection().execute_query_dict(
        "SELECT table_name AS t, table_rows AS n, (data_length + index_length) / 1048576 AS mb"
        " FROM information_schema.tables WHERE table_schema = %s"
        " AND table_name IN ('users', 'promoters', 'promoter_closure', 'team_counts')",
        [database],
    )
    counts = (await connection().execute_query_dict("SELECT COUNT(*) AS n FROM team_counts"))[0]
    lines = [
        f"- {shape.size:,} promoters (one program), {roots:,} roots, ids in join order;"
        f" deepest member at depth {max(shape.depths)}.",
        f"- {len(team_sizes)} very popular uplines with teams of "
        + ", ".join(f"{n:,}" for n in team_sizes)
        + f"; each has {LIEUTENANTS} direct members. Largest team by level: "
        + ", ".join(f"L{d} {len(m):,}" for d, m in sorted(biggest.items()) if d)
        + ".",
        f"- {len(chain_depths):,} chains {min(chain_depths)}–{max(chain_depths)} deep"
        f" ({sum(chain_depths) + len(chain_depths):,} promoters);"
        f" {shape.small_trees:,} small trees of 1–7 promoters, at most 2 deep.",
        f"- {links:,} closure rows, {counts['n']:,} team-count rows. On disk (data + indexes): "
        + ", ".join(f"{r['t']} {float(r['mb']):,.0f} MiB" for r in sorted(tables, key=str))
        + ".",
    ]
    return lines, sum(float(r["mb"]) for r in tables)
