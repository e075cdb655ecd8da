"""The hierarchy benchmark's report: figures, machine and data shape, as Markdown for the
"## Hierarchy" section of bench/RESULTS.md."""

from __future__ import annotations

import math
import os
import platform
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")


@dataclass
class Row:
    """One operation: our timings, the baseline's, and the plans of what we ran."""

    name: str
    ours: list[float]
    base: list[float]
    base_label: str
    plan: list[str] = field(default_factory=list)


def percentile(times: list[float], pct: float) -> float:
    ordered = sorted(times)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


def machine_line(version: str) -> str:
    with open("/proc/cpuinfo") as info:
        cpu = next((ln.split(":", 1)[1].strip() for ln in info if ln.startswith("model name")), "")
    with open("/proc/meminfo") as info:
        memory = int(next(ln.split()[1] for ln in info if ln.startswith("MemTotal")))
    return (
        f"{os.cpu_count()} cores ({cpu}), {memory / 1048576:.0f} GiB RAM, {platform.system()}"
        f" {platform.release()}; MariaDB {version} on loopback TCP; Python"
        f" {platform.python_version()}, tortoise-orm 1.1.9 over aiomysql (the service's own pool)."
    )


@dataclass
class Pass:
    """One round of measurements under one server configuration."""

    title: str
    rows: list[Row]
    load: tuple[float, float]  # 1-minute load average before and after


def _ms(value: float) -> str:
    return f"{value:,.2f} ms" if value < 100 else f"{value:,.0f} ms"


def render_pass(run: Pass) -> list[str]:
    lines = [
        f"### {run.title}",
        "",
        f"1-minute load average {run.load[0]:.1f} before, {run.load[1]:.1f} after"
        " (other work on the machine shows up in the p95s).",
        "",
        "| operation | closure p50 | closure p95 | n | CTE baseline | CTE p50 | CTE p95 | n |",
        "|---|---:|---:|---:|---|---:|---:|---:|",
    ]
    for row in run.rows:
        lines.append(
            f"| {row.name} | {_ms(percentile(row.ours, 50))} | {_ms(percentile(row.ours, 95))}"
            f" | {len(row.ours)} | {row.base_label} | {_ms(percentile(row.base, 50))}"
            f" | {_ms(percentile(row.base, 95))} | {len(row.base)} |"
        )
    reads = max(percentile(row.ours, 50) for row in run.rows[:-1])
    move = percentile(run.rows[-1].ours, 50)
    lines += [
        "",
        f"Targets: every read ≤ 2 ms p50 — {'met' if reads <= 2 else 'NOT met'} (slowest"
        f" {_ms(reads)}); move ≤ 1 s — {'met' if move <= 1000 else 'NOT met'} (p50 {_ms(move)}).",
        "",
    ]
    return lines


def render_results(
    *,
    passes: list[Pass],
    shape: list[str],
    data_mib: float,
    build: dict[str, float],
    machine: str,
    command: str,
) -> str:
    lines = [
        "## Hierarchy",
        "",
        f"`{command}`, run {datetime.now(UTC):%Y-%m-%d}. It creates and drops its own database"
        " on `BENCH_MYSQL_URL` (default mysql://root:@127.0.0.1:3306).",
        "",
        f"Machine: {machine}",
        "",
        "Data shape:",
        *shape,
        "",
        "Build (bulk LOAD DATA into the empty tables, team counts by one INSERT … SELECT …"
        " GROUP BY; never through attach_promoter): "
        + ", ".join(f"{name} {secs:.1f} s" for name, secs in build.items())
        + f"; total {sum(build.values()) / 60:.1f} min.",
        "",
        "Each figure is the wall time of one call of the real service function"
        " (server.services.promoters.hierarchy / team) through tortoise and aiomysql,"
        " so driver and ORM overhead are included: p50/p95 over n samples after a warm-up,"
        " random inputs per sample. Before timing, every read was checked to return exactly"
        " what its CTE returns."
        " The baseline asks the same question with a recursive CTE over the indexed"
        " `promoters.parent_id`, on the same data and pool; its page leaves out the per-member"
        " team size (that would take one more walk per member). A move deletes the subtree's"
        " links to the uplines it leaves, inserts links to the ones it joins and shifts the"
        " depth of the links to the uplines above the fork in place (subtree × uplines rows"
        " each), so it costs more the deeper the subtree lands; the"
        " adjacency-list move beside it is one UPDATE after a CTE cycle check, paid for by"
        " every read above.",
        "",
    ]
    for run in passes:
        lines += render_pass(run)
    lines += [
        f"Reading the passes: these four tables take {data_mib:,.0f} MiB. A buffer pool smaller"
        " than that leaves reads and moves waiting on the disk: a page fetches 20 promoter and"
        " user rows at scattered ids, and a move rewrites index entries at every moved member's"
        " id. Move p95s come from a few slow samples among the n; they were not traced"
        " further.",
        "",
    ]
    lines += ["Query plans (MariaDB EXPLAIN of the statements the service sent):", "", "```"]
    for row in passes[0].rows:
        lines += [f"# {row.name}", *row.plan, ""]
    lines[-1] = "```"
    return "\n".join(lines) + "\n"


def save_section(section: str, *, heading: str = "## Hierarchy") -> None:
    """Replace (or add) the section under `heading`; other benches keep theirs."""
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    start = text.find(heading)
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + 1)
        text = text[:start] + section + ("" if end < 0 else text[end + 1 :])
    RESULTS.write_text(text)
