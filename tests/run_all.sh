#!/usr/bin/env bash
# Runs the whole suite: once on SQLite, then (CI=true or TEST_MYSQL_URL set) the database
# layers again on MariaDB through aiomysql. pytest's "no tests collected" (exit 5) fails.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python

run() {
  "$PY" -m pytest "$@"
  local rc=$?
  if [ "$rc" -eq 5 ]; then
    echo "pytest collected no tests: failing" >&2
    exit 1
  fi
  [ "$rc" -eq 0 ] || exit "$rc"
}

echo "== suite on SQLite =="
run -q tests

if [ "${CI:-}" = "true" ] || [ -n "${TEST_MYSQL_URL:-}" ]; then
  echo "== database layers on MariaDB (aiomysql) =="
  FENXIAO_TEST_DB=mysql run -q tests/service tests/api tests/e2e -m "not sqlite_only"
fi
