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
    def cpu_us_per_request(self) -> float:
        return self.server_cpu_seconds / self.requests * 1e6 if self.requests else 0.0


def _ms(text: str) -> float:
    found = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if found is None:
        raise ValueError(f"unexpected wrk latency {text!r}")
    return float(found.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[found.group(2)]


def _field(pattern: str, out: str) -> str:
    found = re.search(pattern, out)
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
        p50_ms=_ms(_field(r"50%\s+(\S+)", out)),
        p99_ms=_ms(_field(r"99%\s+(\S+)", out)),
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
    real: list[WrkResult]
    rows: dict[str, int]
    exact_ok: int
    stop_seconds: float
    load_before: float
    load_after: float


def _median(results: list[WrkResult], attribute: str) -> float:
    return statistics.median(getattr(result, attribute) for result in results)


def _row(label: str, results: list[WrkResult]) -> str:
    rounds = ", ".join(f"{result.rps:,.0f}" for result in results)
    return (
        f"| {label} | **{_median(results, 'rps'):,.0f}** ({rounds}) | "
        f"{_median(results, 'p50_ms'):.2f} ms | {_median(results, 'p99_ms'):.2f} ms | "
        f"{_median(results, 'cpu_us_per_request'):,.0f} µs | "
        f"{sum(r.non_2xx for r in results)} | "
        f"{'; '.join(sorted({r.socket_errors for r in results}))} |"
    )


def render(report: Report) -> str:
    ratio = _median(report.real, "rps") / _median(report.bare, "rps")
    cpu_ratio = _median(report.bare, "cpu_us_per_request") / _median(
        report.real, "cpu_us_per_request"
    )
    per_round = ", ".join(
        f"{r.rps / b.rps:.2f}" for b, r in zip(report.bare, report.real, strict=True)
    )
    exact_rows = report.rows.get("exact", 0)
    lost = report.exact_ok - exact_rows
    wrk_ok = sum(result.ok for result in report.real)
    wrk_rows = report.rows.get("wrk", 0)
    lines = [
        "## Visits",
        "",
        f"`{report.command}` — {report.database}, {time.strftime('%Y-%m-%d')}.",
        f"Machine: {machine()}; 1-minute load average {report.load_before:.2f} before, "
        f"{report.load_after:.2f} after.",
        "",
        f"`POST /mp/v1/visits {{short_code}}` on the real server (`python -m server.cli run`, "
        f"FENXIAO_ENV=production, {report.workers} workers) against a bare Sanic app answering "
        f"the same route with the same JSON ({report.workers} workers). wrk, "
        f"{report.connections} connections, {len(report.bare)} alternating rounds of "
        f"{report.duration} s per endpoint after a {report.warmup} s warm-up each; medians, "
        "per-round req/s in brackets:",
        "",
        "| endpoint | req/s | p50 | p99 | server CPU / request | non-2xx | socket errors |",
        "|---|---:|---:|---:|---:|---:|---|",
        _row("bare Sanic JSON → 202", report.bare),
        _row("fenxiao visit → 202", report.real),
        "",
        f"**Ratio {ratio:.2f}** (target ≥ 0.5); per round {per_round}. CPU ratio "
        f"{cpu_ratio:.2f}: bare CPU per request / ours, the throughput ratio to expect when "
        "the servers have the cores to themselves (it does not depend on the machine's other "
        "load; with MariaDB, the database server's own CPU is not in it).",
        "",
        f"No loss: a counting client got {report.exact_ok:,} × 2xx, then the server got SIGTERM "
        f"at once (graceful stop {report.stop_seconds:.1f} s): {exact_rows:,} rows — "
        f"{'none lost' if lost == 0 else f'**{lost} LOST**'}. The wrk rounds: {wrk_ok:,} × 2xx "
        f"counted by wrk, {wrk_rows:,} rows (+{wrk_rows - wrk_ok}: answered after wrk stopped "
        f"reading, at most {report.connections} per round).",
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
