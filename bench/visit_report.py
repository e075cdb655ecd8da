"""The visit benchmark's report: wrk figures, machine, no-loss check, as Markdown for the
"## Visits" section of bench/RESULTS.md."""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass

from bench.hierarchy_report import RESULTS


@dataclass(frozen=True)
class WrkResult:
    """One wrk run, as wrk printed it."""

    requests: int
    non_2xx: int
    socket_errors: str
    rps: float
    p50_ms: float
    p99_ms: float
    # CPU the server's processes (all workers) spent during the round.
    server_cpu_seconds: float = 0.0

    @property
    def ok(self) -> int:
        return self.requests - self.non_2xx

    @property
    def ok_rps(self) -> float:
        """2xx answers per second: a visit refused (503 visits_backpressure) is not recorded,
        so it does not count as throughput."""
        return self.rps * self.ok / self.requests if self.requests else 0.0

    @property
    def cpu_us_per_request(self) -> float:
        return self.server_cpu_seconds / self.requests * 1e6 if self.requests else 0.0


def _ms(text: str) -> float:
    found = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if found is None:
        raise ValueError(f"unexpected wrk latency {text!r}")
    return float(found.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[found.group(2)]


def _field(pattern: str, out: str) -> str:
    found = re.search(pattern, out, re.MULTILINE)
    if found is None:
        raise ValueError(f"wrk output lacks {pattern!r}:\n{out}")
    return found.group(1)


def parse_wrk(out: str) -> WrkResult:
    """The figures of `wrk --latency` output."""
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return WrkResult(
        requests=int(_field(r"(\d+) requests in", out)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=errors.group(1).strip() if errors else "none",
        rps=float(_field(r"Requests/sec:\s+([\d.]+)", out)),
        # Anchored: a "+/- Stdev" column such as "81.50%" also contains "50%".
        p50_ms=_ms(_field(r"^\s+50%\s+(\S+)", out)),
        p99_ms=_ms(_field(r"^\s+99%\s+(\S+)", out)),
    )


def machine() -> str:
    with open("/proc/cpuinfo") as info:
        cpu = next((ln.split(":", 1)[1].strip() for ln in info if ln.startswith("model name")), "")
    with open("/proc/meminfo") as info:
        memory = int(next(ln.split()[1] for ln in info if ln.startswith("MemTotal")))
    version = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout
    wrk = version.split(" Copyright")[0].strip() if version else "wrk"
    return (
        f"nproc {os.cpu_count()} ({cpu}), {memory / 1048576:.0f} GiB RAM, Python "
        f"{sys.version.split()[0]}, {wrk}; wrk and both servers share the machine"
    )


@dataclass(frozen=True)
class Report:
    command: str
    database: str
    duration: int
    connections: int
    workers: int
    warmup: int
    bare: list[WrkResult]
    # (label, rounds) per configuration of the real server; the first is the default one.
    real: list[tuple[str, list[WrkResult]]]
    rows: dict[str, int]
    wrk_rows: int
    exact_ok: int
    stop_seconds: float
    load_before: float
    load_after: float


def _median(results: list[WrkResult], attribute: str) -> float:
    return statistics.median(getattr(result, attribute) for result in results)


def _row(label: str, results: list[WrkResult]) -> str:
    rounds = ", ".join(f"{result.ok_rps:,.0f}" for result in results)
    return (
        f"| {label} | **{_median(results, 'ok_rps'):,.0f}** ({rounds}) | "
        f"{_median(results, 'p50_ms'):.2f} ms | {_median(results, 'p99_ms'):.2f} ms | "
        f"{_median(results, 'cpu_us_per_request'):,.0f} µs | "
        f"{sum(r.non_2xx for r in results)} | "
        f"{'; '.join(sorted({r.socket_errors for r in results}))} |"
    )


def _ratios(label: str, bare: list[WrkResult], real: list[WrkResult]) -> str:
    ratio = _median(real, "ok_rps") / _median(bare, "ok_rps")
    cpu_ratio = _median(bare, "cpu_us_per_request") / _median(real, "cpu_us_per_request")
    per_round = ", ".join(f"{r.ok_rps / b.ok_rps:.2f}" for b, r in zip(bare, real, strict=True))
    return f"- {label}: **ratio {ratio:.2f}** (rounds {per_round}); CPU ratio {cpu_ratio:.2f}"


def render(report: Report) -> str:
    main_rounds = report.real[0][1]
    exact_rows = report.rows.get("exact", 0)
    lost = report.exact_ok - exact_rows
    wrk_ok = sum(result.ok for result in main_rounds)
    lines = [
        f"### {report.database}",
        "",
        f"`{report.command}`, {time.strftime('%Y-%m-%d')}.",
        f"Machine: {machine()}; 1-minute load average {report.load_before:.2f} before, "
        f"{report.load_after:.2f} after.",
        "",
        f"`POST /mp/v1/visits {{short_code}}` on the real server (`python -m server.cli run`, "
        f"FENXIAO_ENV=production, {report.workers} workers) against a bare Sanic app answering "
        f"the same route with the same JSON ({report.workers} workers). wrk, "
        f"{report.connections} connections, {len(report.bare)} alternating rounds of "
        f"{report.duration} s per endpoint after a {report.warmup} s warm-up each; medians, "
        "per-round 2xx/s in brackets (a 503 visits_backpressure records nothing, so it is not"
        " counted). Server CPU / request: user + system CPU of all the "
        "server's processes during the round divided by its requests.",
        "",
        "| endpoint | 2xx/s | p50 | p99 | server CPU / request | non-2xx | socket errors |",
        "|---|---:|---:|---:|---:|---:|---|",
        _row("bare Sanic JSON → 202", report.bare),
        *(_row(label, rounds) for label, rounds in report.real),
        "",
        "Throughput ratio to the bare endpoint (target ≥ 0.5), and CPU ratio (bare CPU per "
        "request / ours: the throughput ratio to expect when the servers have the cores to "
        "themselves; it barely depends on the machine's other load, and with MariaDB the "
        "database server's own CPU is not in it):",
        "",
        *(_ratios(label, report.bare, rounds) for label, rounds in report.real),
        "",
        f"No loss: a counting client got {report.exact_ok:,} × 2xx, then the server got SIGTERM "
        f"at once (graceful stop {report.stop_seconds:.1f} s): {exact_rows:,} rows — "
        f"{'none lost' if lost == 0 else f'**{lost} LOST**'}. The wrk rounds: {wrk_ok:,} × 2xx "
        f"counted by wrk, {report.wrk_rows:,} rows (+{report.wrk_rows - wrk_ok}: answered "
        f"after wrk stopped reading, at most {report.connections} per round).",
        "",
    ]
    return "\n".join(lines)


VISITS_HEADING = "## Visits"
VISITS_INTRO = (
    "Written by `bench/visit_bench.py`, one subsection per database (a run replaces its own)."
)


def _replace_block(text: str, heading: str, block: str, *, level: str) -> str:
    """`text` with the block that starts at `heading` replaced by `block` (or appended)."""
    block = block.rstrip("\n") + "\n\n"
    start = text.find(heading + "\n")
    if start < 0:
        return text.rstrip("\n") + "\n\n" + block
    ends = [text.find(f"\n{mark} ", start + 1) for mark in level]
    end = min((e for e in ends if e >= 0), default=-1)
    return text[:start] + block + ("" if end < 0 else text[end + 1 :])


def save_section(subsection: str, *, database: str) -> None:
    """Replace (or add) this database's subsection of "## Visits"; the rest is left alone."""
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    start = text.find(VISITS_HEADING + "\n")
    if start < 0:
        text = text.rstrip("\n") + f"\n\n{VISITS_HEADING}\n\n{VISITS_INTRO}\n\n"
        start = text.find(VISITS_HEADING + "\n")
    end = text.find("\n## ", start + 1)
    section = text[start:] if end < 0 else text[start : end + 1]
    section = _replace_block(section, f"### {database}", subsection, level=("###", "##"))
    text = text[:start] + section.rstrip("\n") + "\n" + ("" if end < 0 else "\n" + text[end + 1 :])
    RESULTS.write_text(text)
