"""Run every benchmark in sequence (what `make bench` does); each writes its own section of
bench/RESULTS.md.

    .venv/bin/python -m bench.run_all [--only NAME ...] [--skip NAME ...] [--no-save]
                                      [--keep-going] [--dry-run]

In order, each as its own process (so one's memory and event loop never affect the next):
1. visits — `bench.visit_bench`: POST /mp/v1/visits against a bare Sanic JSON endpoint, wrk
   on loopback, then the no-loss check on SIGTERM; about 3 min.
2. order_events — `bench.order_event_bench`: signed order.paid events on MariaDB against a
   bare endpoint doing one aiomysql INSERT, 32 connections; about 4 min.
3. settlement — `bench.settle_bench`: settling 1,000,000 due commissions against one
   set-based UPDATE of the same rows (InnoDB buffer pool set to 2048 MiB for the run and
   restored after); about 6 min.
4. hierarchy — `bench.hierarchy_bench`: the closure table at 1,000,000 promoters against
   recursive CTEs, once with the server's buffer pool and once with 2048 MiB; about 15 min.
5. console — `bench.console_bench`: each console page beside the admin API's route on the
   same 1,000,000-promoter tree, whole requests through the app; about 5 min.
6. reports — `bench.report_bench`: the 30-day overview and every breakdown from rollups at
   10,000,000 visits and 1,000,000 orders, against the raw rows (buffer pool set to 8192 MiB
   for the run); about 55 min (raw rows ~17 min, rebuilding 90 days of rollups ~27 min).
7. report_marks — `bench.report_ingest_bench`: visit batches (P1) and order.paid (P2) with
   report marks on against off, in 100 alternating rounds (the spread between rounds is
   ±11–18 % even on a quiet machine; fewer rounds leave the −10 % bound undecided); ~4 min.

Altogether about half an hour on a quiet 2-core machine (longer under load: the figures in
RESULTS.md carry the load average of their run). Needs wrk (`apt-get install -y wrk`) and
MariaDB at BENCH_MYSQL_URL (default mysql://root:@127.0.0.1:3306; each benchmark creates and
drops its own database). Run it on a machine with nothing else going on: every result is a
ratio against a baseline measured in the same run, but a busy machine still widens the
spread. `--dry-run` prints the commands without running anything.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Benchmark:
    name: str
    module: str
    arguments: tuple[str, ...]
    no_save_flag: str  # the benchmark's own flag for "print, leave RESULTS.md alone"
    minutes: int  # rough duration on a quiet 2-core machine

    def command(self, *, save: bool) -> list[str]:
        flags = () if save else (self.no_save_flag,)
        return [sys.executable, "-m", self.module, *self.arguments, *flags]


BENCHMARKS: tuple[Benchmark, ...] = (
    Benchmark(
        name="visits",
        module="bench.visit_bench",
        arguments=("--duration", "15", "--rounds", "3", "--connections", "64", "--workers", "2"),
        no_save_flag="--no-save",
        minutes=3,
    ),
    Benchmark(
        name="order_events",
        module="bench.order_event_bench",
        arguments=("--duration", "15", "--rounds", "3", "--connections", "32", "--workers", "2"),
        no_save_flag="--no-save",
        minutes=4,
    ),
    Benchmark(
        name="settlement",
        module="bench.settle_bench",
        arguments=("--commissions", "1000000", "--promoters", "50000"),
        no_save_flag="--no-write",
        minutes=6,
    ),
    Benchmark(
        name="hierarchy",
        module="bench.hierarchy_bench",
        arguments=("--promoters", "1000000", "--buffer-pool-mb", "2048"),
        no_save_flag="--no-write",
        minutes=15,
    ),
    Benchmark(
        name="console",
        module="bench.console_bench",
        arguments=("--promoters", "1000000"),
        no_save_flag="--no-write",
        minutes=5,
    ),
    Benchmark(
        name="reports",
        module="bench.report_bench",
        arguments=(
            "--visits",
            "10000000",
            "--orders",
            "1000000",
            "--days",
            "90",
            "--raw-samples",
            "2",
            "--buffer-pool-mb",
            "8192",
        ),
        no_save_flag="--no-write",
        minutes=55,
    ),
    Benchmark(
        name="report_marks",
        module="bench.report_ingest_bench",
        arguments=("--rounds", "100", "--batches", "10", "--events", "30"),
        no_save_flag="--no-write",
        minutes=5,
    ),
)
NAMES = tuple(benchmark.name for benchmark in BENCHMARKS)


def selected(only: list[str], skip: list[str]) -> list[Benchmark]:
    """The benchmarks to run, in their fixed order."""
    return [b for b in BENCHMARKS if (not only or b.name in only) and b.name not in skip]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run_all",
        description="Run every benchmark in sequence; each writes its section of RESULTS.md.",
    )
    parser.add_argument("--only", action="append", default=[], choices=NAMES, metavar="NAME")
    parser.add_argument("--skip", action="append", default=[], choices=NAMES, metavar="NAME")
    parser.add_argument(
        "--no-save", action="store_true", help="print each result, leave RESULTS.md alone"
    )
    parser.add_argument(
        "--keep-going", action="store_true", help="run the rest when one benchmark fails"
    )
    parser.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = selected(args.only, args.skip)
    total = sum(benchmark.minutes for benchmark in plan)
    print(f"{len(plan)} benchmark(s), about {total} min on a quiet 2-core machine", flush=True)
    failed: list[str] = []
    for benchmark in plan:
        command = benchmark.command(save=not args.no_save)
        print(f"[{benchmark.name}] {shlex.join(command)}", flush=True)
        if args.dry_run:
            continue
        started = time.monotonic()
        returncode = subprocess.run(command, cwd=ROOT, check=False).returncode
        minutes = (time.monotonic() - started) / 60
        print(f"[{benchmark.name}] exit {returncode} after {minutes:.1f} min", flush=True)
        if returncode != 0:
            failed.append(benchmark.name)
            if not args.keep_going:
                break
    if failed:
        print("failed: " + ", ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
