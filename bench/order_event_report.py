"""The order-event benchmark's figures and report: wrk's output parsed, and the Markdown of
the "## Order events" section of bench/RESULTS.md (bench/order_event_bench.py runs it)."""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")
SECTION = "## Order events"
THREADS = 2
WARMUP_SECONDS = 3
# Issue 22's targets: synchronous, accepted (respond-async), applied (sustained), MariaDB.
TARGET_RATIO = 0.15
TARGET_P99_MS = 100.0
TARGET_ACCEPTED_RATIO = 0.6
TARGET_ACCEPTED_P99_MS = 25.0
TARGET_APPLIED_RATIO = 0.25
TARGET_DB_CPU_MS = 1.0
WHERE_THE_TIME_GOES = (
    "Where the time goes (`python -m bench.order_event_profile` shows it for one event at a"
    " time, `--drain` for the drainer): a synchronous order.paid runs 17 statements — the S2S"
    " guard's nonce insert (one autocommit statement that also checks the key is still live;"
    " the key's secret is kept per worker), then the event's transaction: BEGIN, the order"
    " lock, the event row, the program's configuration stamp (its settings, rules and caps"
    " are kept per worker and reloaded when the stamp moves), the buyer with their promoter"
    " profile, the chain with statuses and tiers, a savepoint, the order, its lines, the 8"
    " commissions and their 8 history rows (one multi-row INSERT each, ids derived from the"
    " insert id under innodb_autoinc_lock_mode ≤ 1), the inline fraud check's identities, the"
    " savepoint's release, the event's outcome, COMMIT. Most of the server CPU is the MySQL"
    " client (aiomysql/pymysql: packets, escaping some 400 values and the JSON"
    " explanations), then the commission engine, the request handling and the signature;"
    " the synchronous ratio cannot pass the CPU ratio bare / real on a machine where the"
    " servers are CPU-bound. The drainer applies a claimed batch of 32 in 20 statements"
    " (0.6 per event: the claim's read, update and read back; the program stamp and a read"
    " of the orders' lock rows to pick the batch; BEGIN, the lock rows, event rows, program"
    " stamp, buyers, chains, orders, lines, commissions, history, identities, outcomes,"
    " report marks, inbox rows, COMMIT): what is left per event is the Python that builds"
    " and escapes the same few hundred values per order and runs the commission engine."
)


@dataclass(frozen=True)
class WrkResult:
    requests: int
    non_2xx: int
    rps: float
    p50_ms: float
    p99_ms: float
    exhausted: bool
    # User + system CPU the server's processes (all workers) spent during the round.
    server_cpu_seconds: float = 0.0
    # Rows the round wrote (orders; baseline rows), counted in the database once the server
    # is idle: unlike wrk's answers, they include the requests still in flight when it stopped.
    rows_written: int = 0
    # With `Prefer: respond-async`: how long applying the accepted events went on after wrk
    # stopped, and how many were applied while it ran.
    drain_seconds: float = 0.0
    applied_by_stop: int = 0
    # Server CPU from the round's start to wrk's stop (the drain after it not included).
    cpu_seconds_by_stop: float = 0.0
    # With `Prefer: respond-async`: CPU of the mariadbd threads serving the benchmark's
    # connections over round and drain (bench/order_event_bench.py, mariadb_session_cpu).
    db_cpu_seconds: float = 0.0

    @property
    def ok(self) -> int:
        return self.requests - self.non_2xx

    @property
    def cpu_ms_per_request(self) -> float:
        """Server CPU per request applied (per row written)."""
        return self.server_cpu_seconds / self.rows_written * 1000 if self.rows_written else 0.0


def _ms(text: str) -> float:
    found = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if found is None:
        raise ValueError(f"unexpected wrk latency {text!r}")
    return float(found.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[found.group(2)]


def parse_wrk(out: str, *, sent: int) -> WrkResult:
    """The figures of `wrk --latency` output; `sent` is how many requests were prepared."""
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    requests = int(_field(r"(\d+) requests in", out))
    return WrkResult(
        requests=requests,
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        rps=float(_field(r"Requests/sec:\s+([\d.]+)", out)),
        p50_ms=_ms(_field(r"(?m)^\s+50%\s+(\S+)", out)),
        p99_ms=_ms(_field(r"(?m)^\s+99%\s+(\S+)", out)),
        exhausted=requests > sent,
    )


def _field(pattern: str, out: str) -> str:
    found = re.search(pattern, out)
    if found is None:
        raise ValueError(f"wrk output lacks {pattern!r}:\n{out}")
    return found.group(1)


def _machine(mariadb: str) -> str:
    with open("/proc/cpuinfo") as info:
        cpu = next((ln.split(":", 1)[1].strip() for ln in info if ln.startswith("model name")), "")
    with open("/proc/meminfo") as info:
        memory = int(next(ln.split()[1] for ln in info if ln.startswith("MemTotal")))
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout
    return (
        f"nproc {os.cpu_count()} ({cpu}), {memory / 1048576:.0f} GiB RAM, {platform.system()}"
        f" {platform.release()}; MariaDB {mariadb} on loopback TCP; Python"
        f" {platform.python_version()}; {wrk.split(' Copyright')[0].strip() or 'wrk'}."
        " wrk, MariaDB and both servers share the machine"
    )


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def render(
    *,
    command: str,
    args: argparse.Namespace,
    mariadb_version: str,
    bare: list[WrkResult],
    real: list[WrkResult],
    queued: list[WrkResult],
    sweep: list[tuple[int, WrkResult, WrkResult]],
    counts: dict[str, int],
    load: tuple[float, float],
    preloaded: dict[str, float] | None = None,
) -> str:
    def row(name: str, result: WrkResult) -> str:
        flag = " (ran out of requests)" if result.exhausted else ""
        return (
            f"| {name} | {result.rps:,.0f} | {result.p50_ms:.1f} ms | {result.p99_ms:.1f} ms"
            f" | {result.cpu_ms_per_request:.2f} ms | {result.ok:,} | {result.non_2xx:,}{flag} |"
        )

    bare_rps = _median([b.rps for b in bare])
    ratio = _median([r.rps for r in real]) / bare_rps
    cpu_bare = _median([b.cpu_ms_per_request for b in bare])
    cpu_real = _median([r.cpu_ms_per_request for r in real])
    p99 = _median([r.p99_ms for r in real])
    real_ok = sum(r.ok for r in real)
    lines = [
        SECTION,
        "",
        f"`{command}`, run {datetime.now(UTC):%Y-%m-%d}. Throwaway database on"
        " BENCH_MYSQL_URL (default mysql://root:@127.0.0.1:3306), dropped after the run.",
        "",
        f"Machine: {_machine(mariadb_version)}; 1-minute load average {load[0]:.1f}"
        f" before, {load[1]:.1f} after.",
        "",
        *_preloaded_lines(preloaded),
        "Method: see the docstring of bench/order_event_bench.py. In short: signed order.paid"
        " events (2 lines, one under a product rule; bought by an approved promoter of a"
        " 3-level program with the self rebate on: 8 commissions per order) are generated and"
        " HMAC-signed in Python before each round, one file per wrk thread, and replayed once"
        f" each by a wrk Lua script over {args.connections} keep-alive connections"
        f" ({THREADS} threads) on loopback for {args.duration} s; the baseline is a bare Sanic"
        f" endpoint ({args.workers} workers) doing one autocommit aiomysql INSERT per request,"
        f" sent the same requests; the real server runs `python -m server.cli run` with"
        f" {args.workers} workers, FENXIAO_ENV=production. Rounds alternate; warm-up"
        f" {WARMUP_SECONDS} s each.",
        "",
        "| round | req/s | p50 | p99 | server CPU / request | 2xx | non-2xx |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for number, (b, r, q) in enumerate(zip(bare, real, queued, strict=True), start=1):
        lines.append(row(f"{number}: bare INSERT", b))
        lines.append(row(f"{number}: order.paid (real)", r))
        lines.append(row(f"{number}: order.paid, Prefer: respond-async", q))
    lines += [
        "",
        f"Median throughput ratio real / bare: **{ratio:.2f}** (target ≥ {TARGET_RATIO}:"
        f" {'met' if ratio >= TARGET_RATIO else 'NOT met'}); median p99 of the real server:"
        f" **{p99:.1f} ms** (target ≤ {TARGET_P99_MS:.0f} ms:"
        f" {'met' if p99 <= TARGET_P99_MS else 'NOT met'}). Server CPU per request (user +"
        f" system of all the server's processes / rows the round wrote): {cpu_real:.2f} ms real,"
        f" {cpu_bare:.2f} ms bare; CPU ratio bare / real **{cpu_bare / cpu_real:.2f}** (what the"
        " throughput ratio tends to on a machine where the servers have the CPU to"
        " themselves).",
        "",
        f"Written: {counts['orders']:,} orders and {counts['commissions']:,} commissions for"
        f" {real_ok:,} 2xx answers to order.paid in the measured rounds plus the warm-up and"
        " the sweep (requests in flight when wrk stops are still applied);"
        f" {counts['bench_inserts']:,} baseline rows.",
        "",
    ]
    lines += _queued_lines(queued, bare_rps=bare_rps, duration=args.duration)
    lines += [WHERE_THE_TIME_GOES, ""]
    if sweep:
        lines += [
            f"Fewer connections, one {args.duration} s round each after the measured rounds"
            " (the service time with little queueing in front of it):",
            "",
            "| connections | endpoint | req/s | p50 | p99 | server CPU / request | 2xx | non-2xx |",
            "|---:|---|---:|---:|---:|---:|---:|---:|",
        ]
        for connections, b, r in sweep:
            lines.append(f"| {connections} {row('bare INSERT', b)}")
            lines.append(f"| {connections} {row('order.paid (real)', r)}")
        lines.append("")
    return "\n".join(lines)


def _preloaded_lines(preloaded: dict[str, float] | None) -> list[str]:
    if not preloaded:
        return []
    took = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in preloaded.items())
    return [
        "Grown tables (`--preload-inbox`, `--preload-commissions`; INSERT … SELECT over"
        " MariaDB's sequence tables in chunks of 100,000 rows, foreign-key and unique checks"
        f" off, before the servers start): {took}.",
        "",
    ]


def _applied_per_second(result: WrkResult, duration: int) -> float:
    """Events applied per second over the round and the drain after it."""
    return result.rows_written / (duration + result.drain_seconds)


def _queued_lines(queued: list[WrkResult], *, bare_rps: float, duration: int) -> list[str]:
    if not queued:
        return []
    accepted = _median([q.rps for q in queued]) / bare_rps
    p99 = _median([q.p99_ms for q in queued])
    applied = _median([_applied_per_second(q, duration) for q in queued])
    during = _median([q.applied_by_stop / duration for q in queued])
    drains = ", ".join(f"{q.drain_seconds:.0f} s" for q in queued)
    accept_cpu = _median([q.cpu_seconds_by_stop / q.requests * 1000 for q in queued if q.requests])
    per_event = [q.db_cpu_seconds / q.rows_written * 1000 for q in queued if q.rows_written]
    db_cpu = ", ".join(f"{ms:.2f} ms" for ms in per_event)
    db_median = _median(per_event) if per_event else 0.0
    return [
        "With `Prefer: respond-async` the same signed events are answered 202 once verified,"
        " validated and stored in the inbox (an autocommit INSERT … SELECT, shared by the events"
        " a worker accepts at the same moment: the inbox row, which also spends the request's"
        " nonce, written only while the key is live), and"
        " each worker's drainer applies them afterwards: while the worker is accepting, one"
        " event per second through the synchronous path; once idle, two batches of 32 at a"
        " time (two claim-and-apply loops per drainer), each set-based (the plain order.paid"
        " events of new orders in one transaction, one multi-row statement per table; anything"
        " else in four lanes, one order's events in one lane), writing what a synchronous"
        " delivery writes.",
        "",
        f"- Accepted: median ratio to bare **{accepted:.2f}** (target ≥"
        f" {TARGET_ACCEPTED_RATIO}: {'met' if accepted >= TARGET_ACCEPTED_RATIO else 'NOT met'}),"
        f" median p99 **{p99:.1f} ms** (target ≤ {TARGET_ACCEPTED_P99_MS:.0f} ms:"
        f" {'met' if p99 <= TARGET_ACCEPTED_P99_MS else 'NOT met'});"
        f" server CPU per request answered while wrk ran: {accept_cpu:.2f} ms (the drainer's"
        " work in those seconds included).",
        f"- Applied: {during:,.0f} events/s while the burst was being accepted; the backlog"
        f" took {drains} to drain after each round; over round and drain"
        f" **{applied:,.0f} events/s** ({applied / bare_rps:.2f} of the bare INSERT's req/s;"
        f" target ≥ {TARGET_APPLIED_RATIO}:"
        f" {'met' if applied / bare_rps >= TARGET_APPLIED_RATIO else 'NOT met'}):"
        " the sustained rate a store can send at, since the inbox only absorbs bursts.",
        "- MariaDB CPU per applied event (user + system time, from /proc, of the mariadbd"
        " threads serving the benchmark database's connections — one per connection, found by"
        " PROCESSLIST.TID, so the shared server's other clients are left out, and so are"
        " InnoDB's background threads — over round and drain, / events applied):"
        f" {db_cpu}; median **{db_median:.2f} ms** (target ≤ {TARGET_DB_CPU_MS:.0f}"
        f" ms: {'met' if db_median <= TARGET_DB_CPU_MS else 'NOT met'}).",
        "",
    ]


def save_section(section: str) -> None:
    """Replace (or add) the "## Order events" section; other benches keep theirs."""
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    start = text.find(SECTION)
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + 1)
        text = text[:start] + section + ("" if end < 0 else text[end + 1 :])
    RESULTS.write_text(text)
