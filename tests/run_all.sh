#!/usr/bin/env bash
# Runs the whole suite: on SQLite and (CI=true or TEST_MYSQL_URL set) the database layers again
# on MariaDB through aiomysql, the two passes at the same time (each waits on servers, workers
# and databases most of its time); then (CI=true or RUN_STACK_TESTS set) the production-shaped
# stack, alone. Each concurrent pass's output is kept apart and printed whole when it ends.
# Any pass failing fails the run; pytest's "no tests collected" (exit 5) fails too.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python

# The two passes never share a Redis database: a worker restoring unacknowledged tasks (the
# worker-restart test) must not hand the other pass's tasks back. The stack uses 2 and 3.
SQLITE_REDIS_URL="${TEST_REDIS_URL:-redis://127.0.0.1:6379/15}"
MARIADB_REDIS_URL="${TEST_MARIADB_REDIS_URL:-redis://127.0.0.1:6379/14}"

SQLITE_ARGS=(-q tests)
MARIADB_ARGS=(-q tests/service tests/api tests/e2e -m "not sqlite_only"
  -o cache_dir=.pytest_cache/mariadb)

# The exit status a pass counts as: pytest's, except that collecting nothing is a failure.
verdict() {
  if [ "$1" -eq 5 ]; then
    echo "pytest collected no tests: failing" >&2
    echo 1
  else
    echo "$1"
  fi
}

now() { date +%s; }

failed=0

if [ "${CI:-}" = "true" ] || [ -n "${TEST_MYSQL_URL:-}" ]; then
  logs=$(mktemp -d "${TMPDIR:-/tmp}/fenxiao-tests.XXXXXX")
  started=$(now)
  echo "== suite on SQLite and database layers on MariaDB (aiomysql), concurrently =="
  echo "   (each pass's output is printed when it ends; logs in $logs)"
  # Each pass in its own session with SIGINT handled (a script's background jobs ignore it),
  # so that an interrupted run stops each pass once, the way Ctrl-C would: its fixtures then
  # stop the servers and workers it started.
  TEST_REDIS_URL="$SQLITE_REDIS_URL" setsid env --default-signal=INT \
    "$PY" -m pytest "${SQLITE_ARGS[@]}" >"$logs/sqlite.log" 2>&1 &
  sqlite_pid=$!
  FENXIAO_TEST_DB=mysql TEST_REDIS_URL="$MARIADB_REDIS_URL" setsid env --default-signal=INT \
    "$PY" -m pytest "${MARIADB_ARGS[@]}" >"$logs/mariadb.log" 2>&1 &
  mariadb_pid=$!
  trap 'kill -INT $sqlite_pid $mariadb_pid 2>/dev/null; wait; echo "interrupted; logs in $logs"
    exit 130' INT TERM

  declare -A names=([$sqlite_pid]="SQLite" [$mariadb_pid]="MariaDB")
  declare -A files=([$sqlite_pid]="$logs/sqlite.log" [$mariadb_pid]="$logs/mariadb.log")
  remaining=("$sqlite_pid" "$mariadb_pid")
  while [ "${#remaining[@]}" -gt 0 ]; do
    # Whichever ends first is printed first.
    wait -n -p done_pid "${remaining[@]}"
    rc=$(verdict $?)
    name=${names[$done_pid]}
    echo
    echo "== $name pass: exit $rc after $(($(now) - started)) s =="
    sed "s/^/[$name] /" "${files[$done_pid]}"
    [ "$rc" -eq 0 ] || failed=$rc
    left=()
    for pid in "${remaining[@]}"; do [ "$pid" = "$done_pid" ] || left+=("$pid"); done
    remaining=("${left[@]+"${left[@]}"}")
  done
  trap - INT TERM
  echo
  echo "== both passes ended after $(($(now) - started)) s =="
  [ "$failed" -eq 0 ] && rm -rf "$logs"
else
  echo "== suite on SQLite =="
  TEST_REDIS_URL="$SQLITE_REDIS_URL" "$PY" -m pytest "${SQLITE_ARGS[@]}"
  failed=$(verdict $?)
fi
[ "$failed" -eq 0 ] || exit "$failed"

if [ "${CI:-}" = "true" ] || [ -n "${RUN_STACK_TESTS:-}" ]; then
  # The issue-6 scenario over real HTTP against the production-shaped stack (deploy/stack.py:
  # 2 Sanic workers on MariaDB, Celery worker and beat on Redis, WeChat stand-in). A stack
  # this run starts is stopped however the run ends; one already running is left running.
  echo "== production-shaped stack: end-to-end money scenario =="
  started=$(now)
  if ! "$PY" deploy/stack.py status >/dev/null; then
    trap '"$PY" deploy/stack.py stop' EXIT
  fi
  "$PY" deploy/stack.py start || exit 1
  "$PY" deploy/stack.py test || exit 1
  echo "== stack scenario passed after $(($(now) - started)) s (stopping it follows) =="
fi
