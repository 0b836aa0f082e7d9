#!/usr/bin/env bash
# The local stack the platform runs on: Postgres and Redis (the machine's, started only if down), Kafka and the Schema
# Registry (the project's own, from Maven Central), pgvector for the semantic cache (PGlite, from npm), and S3Proxy
# when the S3 content store backend is selected.
#   up [--record FILE] [--s3proxy]   start what is not running; with --record, append what this call started to FILE;
#                                    S3Proxy too with --s3proxy or CAS_BACKEND=s3 (unless CAS_S3_ENDPOINT is remote)
#   s3proxy [--record FILE]          start only S3Proxy (the tests' S3 server when the rest runs elsewhere)
#   down [--only FILE]               stop Kafka, the registry, PGlite and S3Proxy; with --only, stop just what FILE lists
#   status                           show each part
set -euo pipefail
SCRIPT_NAME=stack
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# Services the environment points elsewhere are the user's business, not ours to start.
is_local() { case "$1" in *127.0.0.1* | *localhost* | "") return 0 ;; *) return 1 ;; esac; }

start_postgres() {
  is_local "${DATABASE_URL:-}" || return 0
  port_open 127.0.0.1 5432 && return 0
  say "PostgreSQL is down; starting the machine's cluster"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
  for _ in $(seq 1 30); do port_open 127.0.0.1 5432 && { record postgres; return 0; }; sleep 0.5; done
  say "PostgreSQL did not come up on 127.0.0.1:5432"; exit 1
}

start_redis() {
  is_local "${REDIS_URL:-}" || return 0
  port_open 127.0.0.1 6379 && return 0
  say "Redis is down; starting it"
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  for _ in $(seq 1 30); do port_open 127.0.0.1 6379 && { record redis; return 0; }; sleep 0.2; done
  say "Redis did not come up on 127.0.0.1:6379"; exit 1
}

start_kafka() {
  is_local "${KAFKA_BROKERS:-}" || return 0
  "$ROOT/infra/kafka/kafka.sh" status >/dev/null 2>&1 && return 0
  # Another checkout's broker (or one started by hand) already serves the port: use it rather than fail.
  if port_open 127.0.0.1 "${KAFKA_PORT:-9092}"; then say "using the Kafka already listening on 127.0.0.1:${KAFKA_PORT:-9092}"; return 0; fi
  "$ROOT/infra/kafka/kafka.sh" start
  record kafka
}

start_registry() {
  is_local "${SCHEMA_REGISTRY_URL:-}" || return 0
  "$ROOT/infra/registry/registry.sh" status >/dev/null 2>&1 && return 0
  if port_open 127.0.0.1 "${SCHEMA_REGISTRY_PORT:-8081}"; then say "using the registry already listening on 127.0.0.1:${SCHEMA_REGISTRY_PORT:-8081}"; return 0; fi
  "$ROOT/infra/registry/registry.sh" start
  record registry
}

start_s3proxy() {
  is_local "${CAS_S3_ENDPOINT:-}" || return 0
  "$ROOT/infra/s3proxy/s3proxy.sh" status >/dev/null 2>&1 && return 0
  if port_open 127.0.0.1 "${S3PROXY_PORT:-8090}"; then say "using the S3 server already listening on 127.0.0.1:${S3PROXY_PORT:-8090}"; return 0; fi
  "$ROOT/infra/s3proxy/s3proxy.sh" start
  record s3proxy
}

start_pglite() {
  is_local "${VECTOR_DATABASE_URL:-}" || return 0
  "$ROOT/infra/pglite/pglite.sh" status >/dev/null 2>&1 && return 0
  # Another checkout's PGlite (or a Postgres with pgvector started by hand) already serves the port: use it.
  local port; port="$(sed -E 's#^[a-z]+://([^@/]*@)?[^:/]+:([0-9]+).*#\2#;t;s#.*#5433#' <<<"${VECTOR_DATABASE_URL:-postgres://postgres@127.0.0.1:5433/postgres}")"
  if port_open 127.0.0.1 "$port"; then say "using the vector database already listening on 127.0.0.1:$port"; return 0; fi
  "$ROOT/infra/pglite/pglite.sh" start
  record pglite
}

RECORD=""
WITH_S3PROXY=""
[ "${CAS_BACKEND:-}" = "s3" ] && WITH_S3PROXY=1
parse_up_flags() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --record) RECORD="$2"; shift 2 ;;
      --s3proxy) WITH_S3PROXY=1; shift ;;
      *) echo "unknown option $1" >&2; exit 2 ;;
    esac
  done
}
record() { [ -n "$RECORD" ] && echo "$1" >>"$RECORD"; return 0; }

stop_one() {
  case "$1" in
    kafka) "$ROOT/infra/kafka/kafka.sh" stop ;;
    registry) "$ROOT/infra/registry/registry.sh" stop ;;
    s3proxy) "$ROOT/infra/s3proxy/s3proxy.sh" stop ;;
    pglite) "$ROOT/infra/pglite/pglite.sh" stop ;;
    redis) redis-cli -h 127.0.0.1 -p 6379 shutdown nosave >/dev/null 2>&1 || true ;;
    postgres) pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main stop || true ;;
  esac
}

case "${1:-}" in
  up)
    shift
    parse_up_flags "$@"
    # Postgres first: the registry keeps its schemas there.
    start_postgres
    start_redis
    start_kafka
    start_registry
    start_pglite
    if [ -n "$WITH_S3PROXY" ]; then start_s3proxy; fi
    ;;
  s3proxy)
    shift
    parse_up_flags "$@"
    start_s3proxy
    ;;
  down)
    if [ "${2:-}" = "--only" ]; then
      [ -f "$3" ] || exit 0
      # Reverse order: the registry before the Postgres it writes to.
      tac "$3" | while read -r part; do stop_one "$part"; done
      rm -f "$3"
    else
      stop_one s3proxy
      stop_one pglite
      stop_one registry
      stop_one kafka
    fi
    ;;
  status)
    rc=0
    port_open 127.0.0.1 5432 && echo "postgres: up on 127.0.0.1:5432" || { echo "postgres: down"; rc=3; }
    port_open 127.0.0.1 6379 && echo "redis: up on 127.0.0.1:6379" || { echo "redis: down"; rc=3; }
    "$ROOT/infra/kafka/kafka.sh" status || rc=3
    "$ROOT/infra/registry/registry.sh" status || rc=3
    "$ROOT/infra/pglite/pglite.sh" status || rc=3
    # Optional: reported, never a failure of the stack.
    "$ROOT/infra/s3proxy/s3proxy.sh" status || true
    exit $rc
    ;;
  *) echo "usage: $0 up [--record FILE] [--s3proxy] | s3proxy [--record FILE] | down [--only FILE] | status" >&2; exit 2 ;;
esac
