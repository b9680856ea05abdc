#!/usr/bin/env bash
# The whole test suite: build, lint, unit and JS-SDK integration tests (node:test), then the
# boto3 and AWS CLI integration tests (pytest). Each integration suite starts its own Trent.
set -euo pipefail
cd "$(dirname "$0")/.."

[ -d node_modules ] || npm ci
npm run build --silent
npx biome check src test bench scripts

status=0
node --test --test-concurrency=2 dist/test/ || status=$?

python3 scripts/ensure-python-deps.py
python3 -m pytest -q test/python || status=$?
exit $status
