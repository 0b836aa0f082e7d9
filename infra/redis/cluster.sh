#!/usr/bin/env bash
# A local Redis Cluster from the machine's redis-server: 3 masters and 3 replicas (one each), the cache profile of
# redis.conf, no persistence, state and logs in .local/redis-cluster (REDIS_CLUSTER_HOME). A killed master's replica
# takes over after about two cluster-node-timeouts; a node started again with its nodes.conf rejoins (as a replica of
# whoever took over).
#   start | stop | status        the whole cluster (start creates it on the first run: redis-cli --cluster create)
#   kill N | start-node N        SIGKILL node N (1-based; 1-3 start as masters), and start it again (chaos tests)
#   nodes                        the environment the platform needs (REDIS_URL=redis+cluster://...)
# Ports: node N listens on REDIS_CLUSTER_PORT + N - 1 (6391..6396), its cluster bus 10000 above; REDIS_CLUSTER_PORTS
# and REDIS_CLUSTER_BUS_PORTS (comma-separated) choose others (tests use free ports).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
STATE="${REDIS_CLUSTER_HOME:-$ROOT/.local/redis-cluster}"
BASE_PORT="${REDIS_CLUSTER_PORT:-6391}"
REDIS_SERVER="${REDIS_SERVER:-/usr/bin/redis-server}"
REDIS_CLI="${REDIS_CLI:-/usr/bin/redis-cli}"
# How long a master may be unreachable before it is marked failed and its replica elected: a failover takes about
# twice this. Small, because a cache shard without a master turns its keys' lookups into misses meanwhile.
NODE_TIMEOUT_MS="${REDIS_CLUSTER_NODE_TIMEOUT_MS:-1500}"
MAXMEMORY="${REDIS_CLUSTER_MAXMEMORY:-256mb}"
MASTERS=3
COUNT=$((MASTERS * 2))

log() { printf '[redis-cluster] %s\n' "$*" >&2; }

IFS=, read -r -a PORTS <<<"${REDIS_CLUSTER_PORTS:-}"
IFS=, read -r -a BUS_PORTS <<<"${REDIS_CLUSTER_BUS_PORTS:-}"
for ((i = 0; i < COUNT; i++)); do
  PORTS[i]="${PORTS[i]:-$((BASE_PORT + i))}"
  BUS_PORTS[i]="${BUS_PORTS[i]:-$((PORTS[i] + 10000))}"
done

cli() { "$REDIS_CLI" -h 127.0.0.1 -p "$1" "${@:2}"; }
port_of() { echo "${PORTS[$(($1 - 1))]}"; }
pid_of() { cat "$STATE/node-$1/redis.pid" 2>/dev/null || true; }
running() { local pid; pid="$(pid_of "$1")"; [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; }

start_node() {
  local n="$1" i=$(($1 - 1)) dir="$STATE/node-$1"
  mkdir -p "$dir"
  if running "$n"; then return 0; fi
  # redis.conf first, then what a cluster node needs; later arguments win.
  # - cluster-require-full-coverage no: while one shard has no master, the other shards keep serving.
  # - cluster-replica-validity-factor 0: a replica takes over however long it was cut off (a cache: availability wins).
  # - io-threads 1: six servers share this machine.
  "$REDIS_SERVER" "$HERE/redis.conf" --port "${PORTS[i]}" --bind 127.0.0.1 --cluster-port "${BUS_PORTS[i]}" \
    --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout "$NODE_TIMEOUT_MS" \
    --cluster-require-full-coverage no --cluster-replica-validity-factor 0 \
    --maxmemory "$MAXMEMORY" --io-threads 1 --save "" --appendonly no \
    --dir "$dir" --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >/dev/null
  # Generous: six servers beside another test file's processes on two cores once failed to start in time here.
  for _ in $(seq 1 300); do
    [ "$(cli "${PORTS[i]}" ping 2>/dev/null)" = PONG ] && return 0
    sleep 0.1
  done
  log "node $n did not answer on 127.0.0.1:${PORTS[i]} (log: $dir/redis.log)"
  return 1
}

# The cluster's state as node $1 sees it (ok or fail), empty when it does not answer.
state_seen_by() { cli "$(port_of "$1")" cluster info 2>/dev/null | sed -n 's/^cluster_state:\([a-z]*\).*/\1/p'; }

wait_ok() {
  for _ in $(seq 1 450); do
    local ok=1
    for ((n = 1; n <= COUNT; n++)); do [ "$(state_seen_by "$n")" = ok ] || ok=0; done
    [ "$ok" = 1 ] && return 0
    sleep 0.2
  done
  log "the cluster did not reach cluster_state:ok"
  return 1
}

start_all() {
  mkdir -p "$STATE"
  log "starting $COUNT nodes on ports ${PORTS[*]}, state in $STATE"
  for ((n = 1; n <= COUNT; n++)); do start_node "$n"; done
  # Created once: afterwards the nodes find each other through their nodes.conf.
  if [ "$(cli "${PORTS[0]}" cluster info | sed -n 's/^cluster_known_nodes:\([0-9]*\).*/\1/p')" != "$COUNT" ]; then
    local addresses=()
    for ((i = 0; i < COUNT; i++)); do addresses+=("127.0.0.1:${PORTS[i]}"); done
    "$REDIS_CLI" --cluster create "${addresses[@]}" --cluster-replicas 1 --cluster-yes >"$STATE/create.log" 2>&1 || {
      cat "$STATE/create.log" >&2
      exit 1
    }
  fi
  wait_ok
  log "ready: REDIS_URL=$(url)"
}

stop_all() {
  for ((n = 1; n <= COUNT; n++)); do
    local pid
    pid="$(pid_of "$n")"
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  done
  for ((n = 1; n <= COUNT; n++)); do
    for _ in $(seq 1 50); do running "$n" || break; sleep 0.1; done
    rm -f "$STATE/node-$n/redis.pid"
  done
}

url() {
  local list=""
  for ((i = 0; i < COUNT; i++)); do list+="${list:+,}127.0.0.1:${PORTS[i]}"; done
  echo "redis+cluster://$list"
}

case "${1:-}" in
  start) start_all ;;
  stop) stop_all ;;
  status)
    rc=0
    for ((n = 1; n <= COUNT; n++)); do
      if running "$n"; then
        echo "redis node $n: up on 127.0.0.1:$(port_of "$n") ($(cli "$(port_of "$n")" role 2>/dev/null | head -n1)," \
          "cluster_state:$(state_seen_by "$n"))"
      else
        echo "redis node $n: not running"
        rc=3
      fi
    done
    exit $rc
    ;;
  kill)
    n="${2:?node number}"
    pid="$(pid_of "$n")"
    [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do running "$n" || break; sleep 0.1; done
    rm -f "$STATE/node-$n/redis.pid"
    ;;
  start-node) start_node "${2:?node number}" ;;
  nodes) echo "REDIS_URL=$(url)" ;;
  *) echo "usage: $0 start|stop|status|kill N|start-node N|nodes" >&2; exit 2 ;;
esac
