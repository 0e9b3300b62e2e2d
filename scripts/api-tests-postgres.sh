#!/usr/bin/env bash
# The REST API on PostgreSQL: starts a private PostgreSQL server (scripts/lib/test-postgres.sh),
# then runs tests/api/postgres.test.mjs and a few API test files whose servers each keep their
# state in a fresh database there (`oriel serve --database-url`, see tests/lib/oriel.mjs):
# the official @mux/mux-node SDK, isolation between environments, persistence across restarts,
# live streams, and the webhook outbox with its dispatcher. The server is stopped at the end.
#
#   scripts/api-tests-postgres.sh        (ORIEL_BIN picks the binary, as for tests/api)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

dir="$(mktemp -u "${TMPDIR:-/tmp}/oriel-api-pg.XXXXXX")"
trap 'bash scripts/lib/test-postgres.sh stop "$dir"' EXIT
ORIEL_TEST_DATABASE_URL="$(bash scripts/lib/test-postgres.sh start "$dir")"
export ORIEL_TEST_DATABASE_URL
echo "api-tests-postgres: PostgreSQL at $ORIEL_TEST_DATABASE_URL" >&2

node --test --test-concurrency=1 --test-reporter=spec \
  tests/api/postgres.test.mjs \
  tests/api/mux-node.test.mjs \
  tests/api/isolation.test.mjs \
  tests/api/persistence.test.mjs \
  tests/api/live-streams.test.mjs \
  tests/api/webhooks.test.mjs
