#!/usr/bin/env bash
# The local stack the platform runs on: Postgres and Redis (the machine's, started only if down), Kafka and the Schema
# Registry (the project's own, from Maven Central), pgvector for the semantic cache (PGlite, from npm), and S3Proxy
# when the S3 content store backend is selected.
#   up [--record FILE] [--s3proxy] [--brokers N] [--redis-cluster] [--read-replica]
#                                    start what is not running; with --record, append what this call started to FILE;
#                                    S3Proxy too with --s3proxy or CAS_BACKEND=s3 (unless CAS_S3_ENDPOINT is remote);
#                                    N Kafka brokers (KAFKA_BROKER_COUNT, default 1) replicating every topic
#                                    min(N, 3) times (infra/kafka/cluster.sh; `cluster.sh brokers` prints the env);
#                                    with --redis-cluster (REDIS_CLUSTER=1) also a 3-master Redis Cluster
#                                    (infra/redis/cluster.sh; `cluster.sh nodes` prints the REDIS_URL to use);
#                                    a streaming replica of Postgres on 127.0.0.1:5434 with --read-replica
#                                    (infra/postgres/replica.sh; point DATABASE_READ_URL at it)
#   s3proxy [--record FILE]          start only S3Proxy (the tests' S3 server when the rest runs elsewhere)
#   down [--only FILE]               stop Kafka, the registry, PGlite, S3Proxy, the Redis Cluster and the Postgres
#                                    replica; with --only, stop just what FILE lists
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

# Starts one of the project's own services (infra/<name>/<name>.sh) unless the environment points at another
# address, it runs already, or something else (another checkout's, one started by hand) serves its port: that one is
# used rather than failing.
start_own() {
  local name="$1" address="$2" port="$3" what="$4"
  local script="$ROOT/infra/$name/$name.sh"
  is_local "$address" || return 0
  "$script" status >/dev/null 2>&1 && return 0
  if port_open 127.0.0.1 "$port"; then say "using the $what already listening on 127.0.0.1:$port"; return 0; fi
  "$script" start
  record "$name"
}

start_kafka() {
  if [ "${KAFKA_BROKER_COUNT:-1}" -le 1 ]; then start_own kafka "${KAFKA_BROKERS:-}" "${KAFKA_PORT:-9092}" Kafka; return; fi
  "$ROOT/infra/kafka/cluster.sh" status >/dev/null 2>&1 && return 0
  if port_open 127.0.0.1 "${KAFKA_PORT:-9092}"; then
    say "127.0.0.1:${KAFKA_PORT:-9092} is taken (the single-node broker?): stop it first (npm run stack:down)"
    exit 1
  fi
  "$ROOT/infra/kafka/cluster.sh" start
  record kafka-cluster
}
# Besides the machine's Redis (which /health of a default configuration still checks), not instead of it.
start_redis_cluster() {
  "$ROOT/infra/redis/cluster.sh" status >/dev/null 2>&1 && return 0
  "$ROOT/infra/redis/cluster.sh" start
  record redis-cluster
}
start_registry() { start_own registry "${SCHEMA_REGISTRY_URL:-}" "${SCHEMA_REGISTRY_PORT:-8081}" registry; }
start_s3proxy() { start_own s3proxy "${CAS_S3_ENDPOINT:-}" "${S3PROXY_PORT:-8090}" "S3 server"; }
# After Postgres: it is a copy of it.
start_pg_replica() {
  "$ROOT/infra/postgres/replica.sh" status >/dev/null 2>&1 && return 0
  "$ROOT/infra/postgres/replica.sh" start
  record pg-replica
}
start_pglite() {
  local url="${VECTOR_DATABASE_URL:-postgres://postgres@127.0.0.1:5433/postgres}"
  start_own pglite "${VECTOR_DATABASE_URL:-}" "$(sed -E 's#^[a-z]+://([^@/]*@)?[^:/]+:([0-9]+).*#\2#;t;s#.*#5432#' <<<"$url")" \
    "vector database"
}

RECORD=""
WITH_S3PROXY=""
WITH_READ_REPLICA=""
[ "${CAS_BACKEND:-}" = "s3" ] && WITH_S3PROXY=1
parse_up_flags() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --record) RECORD="$2"; shift 2 ;;
      --s3proxy) WITH_S3PROXY=1; shift ;;
      --brokers) export KAFKA_BROKER_COUNT="$2"; shift 2 ;;
      --redis-cluster) export REDIS_CLUSTER=1; shift ;;
      --read-replica) WITH_READ_REPLICA=1; shift ;;
      *) echo "unknown option $1" >&2; exit 2 ;;
    esac
  done
}
record() { [ -n "$RECORD" ] && echo "$1" >>"$RECORD"; return 0; }

stop_one() {
  case "$1" in
    kafka) "$ROOT/infra/kafka/kafka.sh" stop ;;
    kafka-cluster) "$ROOT/infra/kafka/cluster.sh" stop ;;
    redis-cluster) "$ROOT/infra/redis/cluster.sh" stop ;;
    registry) "$ROOT/infra/registry/registry.sh" stop ;;
    s3proxy) "$ROOT/infra/s3proxy/s3proxy.sh" stop ;;
    pglite) "$ROOT/infra/pglite/pglite.sh" stop ;;
    pg-replica) "$ROOT/infra/postgres/replica.sh" stop ;;
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
    if [ -n "$WITH_READ_REPLICA" ]; then start_pg_replica; fi
    start_redis
    if [ -n "${REDIS_CLUSTER:-}" ]; then start_redis_cluster; fi
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
      stop_one pg-replica
      stop_one pglite
      stop_one registry
      stop_one kafka
      [ -s "$ROOT/.local/kafka-cluster/cluster.id" ] && stop_one kafka-cluster
      if [ -d "$ROOT/.local/redis-cluster" ]; then stop_one redis-cluster; fi
    fi
    ;;
  status)
    rc=0
    port_open 127.0.0.1 5432 && echo "postgres: up on 127.0.0.1:5432" || { echo "postgres: down"; rc=3; }
    port_open 127.0.0.1 6379 && echo "redis: up on 127.0.0.1:6379" || { echo "redis: down"; rc=3; }
    if [ -n "${REDIS_CLUSTER:-}" ]; then "$ROOT/infra/redis/cluster.sh" status || rc=3; fi
    if [ "${KAFKA_BROKER_COUNT:-1}" -gt 1 ]; then
      "$ROOT/infra/kafka/cluster.sh" status || rc=3
    else
      "$ROOT/infra/kafka/kafka.sh" status || rc=3
    fi
    "$ROOT/infra/registry/registry.sh" status || rc=3
    "$ROOT/infra/pglite/pglite.sh" status || rc=3
    # Optional: reported, never a failure of the stack.
    "$ROOT/infra/s3proxy/s3proxy.sh" status || true
    "$ROOT/infra/postgres/replica.sh" status || true
    exit $rc
    ;;
  *) echo "usage: $0 up [--record FILE] [--s3proxy] [--brokers N] [--redis-cluster] [--read-replica] | s3proxy [--record FILE] | down [--only FILE] | status" >&2; exit 2 ;;
esac
