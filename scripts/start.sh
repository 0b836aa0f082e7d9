#!/usr/bin/env bash
# `npm start`: installs what is missing, brings up the stack, prepares it (migrations, topics, schemas) and runs every
# role in one process in the foreground. Ctrl-C stops the process and then what this script started.
# KAFKA_BROKER_COUNT=3 runs a replicated local Kafka cluster instead of one broker; ORCH_TOPOLOGY=1 (npm run
# start:topology) runs each role in processes of its own (infra/topology/ecosystem.config.cjs) instead of one.
set -euo pipefail
SCRIPT_NAME=start
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

STARTED="$ROOT/.local/start.started"
mkdir -p "$ROOT/.local"
: >"$STARTED"
stop_started() { "$ROOT/scripts/stack.sh" down --only "$STARTED"; }
trap stop_started EXIT

ensure_deps
[ -n "${ORCH_SKIP_BUILD:-}" ] || build
"$ROOT/scripts/stack.sh" up --record "$STARTED"
if [ "${KAFKA_BROKER_COUNT:-1}" -gt 1 ] && [ -z "${KAFKA_BROKERS:-}" ]; then
  # The local cluster's bootstrap list and replication factor, for the topic catalog and every role.
  while IFS= read -r line; do export "${line?}"; done < <("$ROOT/infra/kafka/cluster.sh" brokers)
  say "Kafka: $KAFKA_BROKER_COUNT brokers ($KAFKA_BROKERS), replication factor $KAFKA_REPLICATION_FACTOR"
fi

say "applying migrations"
run_node dist/libs/db/src/migrate.cli.js
say "applying the topic catalog"
run_node dist/libs/kafka/src/topics-apply.cli.js
say "registering event schemas"
run_node dist/libs/events/src/schemas-register.cli.js

# Not exec: the trap above must run after the app has shut down.
set +e
if [ -n "${ORCH_TOPOLOGY:-}" ]; then
  say "starting every role in processes of its own under pm2 (infra/topology; TOPOLOGY=${TOPOLOGY:-defaults}); Ctrl-C stops"
  PM2_HOME="${PM2_HOME:-$ROOT/.local/pm2}" "$ROOT/node_modules/.bin/node" "$ROOT/node_modules/pm2/bin/pm2-runtime" \
    start "$ROOT/infra/topology/ecosystem.config.cjs" &
else
  say "starting every role (API on http://${HOST:-127.0.0.1}:${PORT:-8080}); Ctrl-C stops"
  # One coordinator: all its partitions in one transaction group, one Kafka transaction per batch (README).
  export COORDINATOR_PARTITION_GROUPS="${COORDINATOR_PARTITION_GROUPS:-1}"
  # Started directly, not through a shell function, so that $! is node itself and a signal to this script reaches it.
  "$ROOT/node_modules/.bin/node" dist/apps/all-in-one/src/main.js &
fi
app=$!
trap 'kill -INT $app 2>/dev/null' INT TERM
wait $app
# The first wait returns when a signal arrives; the second waits for the graceful shutdown itself.
wait $app
status=$?
set -e
exit $status
