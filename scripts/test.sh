#!/usr/bin/env bash
# The whole test suite: build, lint, unit and JS-SDK integration tests (node:test), then the
# boto3 and AWS CLI integration tests (pytest). Each integration suite starts its own Trents.
#
# The integration suites run against both stores: once on SQLite, and once on PostgreSQL in a
# throwaway cluster started here (scripts/postgres-test-server.mjs) and always removed at the end.
# On PostgreSQL every Trent a test starts gets a fresh database in that cluster
# (TRENT_TEST_STORE=postgres, TRENT_TEST_POSTGRES_URL; see test/python/harness.py and
# test/integration/trent-process.ts). Without PostgreSQL installed, those runs are skipped with a
# warning, except in CI (CI set), where that is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

[ -d node_modules ] || npm ci
npm run build --silent
npx biome check src test bench scripts console

status=0
failed=()
# Runs one suite; remembers its failure and carries on with the next one.
run() {
  local name=$1
  shift
  echo
  echo "=== $name"
  local rc=0
  "$@" || rc=$?
  if [ "$rc" -ne 0 ]; then
    failed+=("$name (exit $rc)")
    status=1
  fi
}

pg_dir=""
stop_postgres() {
  if [ -n "$pg_dir" ]; then
    node scripts/postgres-test-server.mjs stop "$pg_dir" || echo "could not stop PostgreSQL in $pg_dir" >&2
    pg_dir=""
  fi
}
trap stop_postgres EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

pg_rc=0
pg_json=$(node scripts/postgres-test-server.mjs start) || pg_rc=$?
if [ "$pg_rc" -eq 0 ]; then
  pg_dir=$(node -e 'process.stdout.write(JSON.parse(process.argv[1]).dataDir)' "$pg_json")
  TRENT_TEST_POSTGRES_URL=$(node -e 'process.stdout.write(JSON.parse(process.argv[1]).url)' "$pg_json")
  export TRENT_TEST_POSTGRES_URL
  echo "PostgreSQL for the tests: $TRENT_TEST_POSTGRES_URL ($pg_dir)"
elif [ "$pg_rc" -eq 3 ] && [ -z "${CI:-}" ]; then
  echo "WARNING: PostgreSQL is not installed: the suites run on SQLite only (set PG_BIN if it is elsewhere)" >&2
else
  failed+=("starting PostgreSQL (exit $pg_rc)")
  status=1
fi
unset TRENT_TEST_STORE TRENT_STORE

# The PKCS#11 tests (root of trust, custom key stores) make their own SoftHSM2 tokens; the module
# comes from Debian's softhsm2 package, installed here when missing.
if ! node scripts/softhsm-test-token.mjs install; then
  if [ -n "${CI:-}" ]; then
    failed+=("installing SoftHSM2")
    status=1
  else
    echo "WARNING: SoftHSM2 is not installed: the PKCS#11 tests are skipped" >&2
  fi
fi

# The web console's end-to-end tests drive Debian's Chromium (test/integration/console.test.ts),
# installed here when missing.
if [ -z "${TRENT_CHROMIUM:-}" ] && ! command -v chromium >/dev/null 2>&1; then
  if ! { apt-get install -y chromium >/dev/null || { apt-get update >/dev/null && apt-get install -y chromium >/dev/null; }; }; then
    if [ -n "${CI:-}" ]; then
      failed+=("installing Chromium")
      status=1
    else
      echo "WARNING: Chromium is not installed: the web console's browser tests are skipped" >&2
    fi
  fi
fi

run "node tests (unit, and integration on SQLite)" node --test --test-concurrency=2 dist/test/
if [ -n "$pg_dir" ]; then
  run "node integration tests on PostgreSQL" env TRENT_TEST_STORE=postgres node --test dist/test/integration/
fi

python3 scripts/ensure-python-deps.py
# The SQLite run does not see the cluster, so the PostgreSQL-only tests run once, in the second run.
run "python tests on SQLite" env -u TRENT_TEST_POSTGRES_URL TRENT_TEST_STORE=sqlite python3 -m pytest -q -rfEs test/python
if [ -n "$pg_dir" ]; then
  run "python tests on PostgreSQL" env TRENT_TEST_STORE=postgres python3 -m pytest -q -rfEs test/python
fi

stop_postgres
echo
if [ "$status" -ne 0 ]; then
  echo "FAILED: ${failed[*]}" >&2
else
  echo "All suites passed."
fi
exit $status
