#!/bin/sh
# The image's entrypoint: the first argument names the role or one-shot command (deploy/Dockerfile).
set -eu
cd /app
role="${1:-all-in-one}"
[ $# -gt 0 ] && shift
case "$role" in
  api | coordinator | worker | materializer | outbox-relay | run-projector | fanout | all-in-one)
    exec node "dist/apps/$role/src/main.js" "$@" ;;
  migrate) exec node dist/libs/db/src/migrate.cli.js ;;
  schemas-register) exec node dist/libs/events/src/schemas-register.cli.js ;;
  topics-apply) exec node dist/libs/kafka/src/topics-apply.cli.js ;;
  # Before a rollout: the migrations, the topic catalog with --topics (where no operator such as Strimzi owns the
  # topics), then the event schemas (BACKWARD).
  prepare)
    node dist/libs/db/src/migrate.cli.js
    if [ "${1:-}" = "--topics" ]; then node dist/libs/kafka/src/topics-apply.cli.js; fi
    exec node dist/libs/events/src/schemas-register.cli.js ;;
  cli | orchestrator) exec node dist/apps/cli/src/main.js "$@" ;;
  *)
    echo "unknown role or command: $role (api, coordinator, worker, materializer, outbox-relay, run-projector," >&2
    echo "fanout, all-in-one, migrate, schemas-register, topics-apply, prepare, cli)" >&2
    exit 2 ;;
esac
