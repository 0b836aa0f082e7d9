#!/usr/bin/env bash
# A local replicated Kafka cluster: KAFKA_BROKER_COUNT (3) KRaft nodes, each broker and controller, each its own
# infra/kafka/kafka.sh with its own data, ports and node id, sharing one cluster id and the jars kafka.sh fetched.
# Internal topics are replicated KAFKA_BROKER_COUNT times with min.insync.replicas 2; the platform's topics take
# KAFKA_REPLICATION_FACTOR from the environment `brokers` prints.
#   start | stop | status        the whole cluster
#   kill N | start-node N        SIGKILL node N (1-based), and start it again (chaos tests)
#   brokers                      the bootstrap list (KAFKA_BROKERS) and the environment the platform needs
# Ports: node N listens on KAFKA_PORT + 2(N-1) (9092, 9094, 9096) and its controller one above (9093, 9095, 9097);
# KAFKA_CLUSTER_PORTS and KAFKA_CLUSTER_CONTROLLER_PORTS (comma-separated) choose others (tests use free ports).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$HERE/pom.xml")"
COUNT="${KAFKA_BROKER_COUNT:-3}"
STATE="${KAFKA_CLUSTER_HOME:-$ROOT/.local/kafka-cluster}"
BASE_PORT="${KAFKA_PORT:-9092}"

log() { printf '[kafka-cluster] %s\n' "$*" >&2; }

IFS=, read -r -a PORTS <<<"${KAFKA_CLUSTER_PORTS:-}"
IFS=, read -r -a CONTROLLER_PORTS <<<"${KAFKA_CLUSTER_CONTROLLER_PORTS:-}"
for ((i = 0; i < COUNT; i++)); do
  PORTS[i]="${PORTS[i]:-$((BASE_PORT + 2 * i))}"
  CONTROLLER_PORTS[i]="${CONTROLLER_PORTS[i]:-$((BASE_PORT + 2 * i + 1))}"
done
VOTERS=""
for ((i = 0; i < COUNT; i++)); do VOTERS+="${VOTERS:+,}$((i + 1))@127.0.0.1:${CONTROLLER_PORTS[i]}"; done

# kafka.sh for node $1 (1-based) with its environment.
node_sh() {
  local n="$1" i=$(($1 - 1))
  shift
  KAFKA_HOME_DIR="$STATE/node-$n" KAFKA_PORT="${PORTS[i]}" KAFKA_CONTROLLER_PORT="${CONTROLLER_PORTS[i]}" \
    KAFKA_NODE_ID="$n" KAFKA_QUORUM_VOTERS="$VOTERS" KAFKA_CLUSTER_REPLICATION="$COUNT" \
    KAFKA_CLUSTER_ID="$(cat "$STATE/cluster.id")" KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms128m -Xmx512m}" \
    bash "$HERE/kafka.sh" "$@"
}

prepare() {
  mkdir -p "$STATE"
  # One download for every node (and the single-node stack): the nodes' lib dirs are links to it.
  local lib
  lib="$(bash "$HERE/kafka.sh" classpath)"
  lib="${lib%/\*}"
  for ((n = 1; n <= COUNT; n++)); do
    mkdir -p "$STATE/node-$n"
    [ -e "$STATE/node-$n/lib-$KAFKA_VERSION" ] || ln -s "$lib" "$STATE/node-$n/lib-$KAFKA_VERSION"
  done
  if [ ! -s "$STATE/cluster.id" ]; then
    java -cp "$lib/*" -Dlog4j.configuration="file:$HERE/config/tools-log4j.properties" kafka.tools.StorageTool \
      random-uuid >"$STATE/cluster.id"
  fi
}

start_all() {
  prepare
  log "starting $COUNT nodes on ports ${PORTS[*]} (controllers ${CONTROLLER_PORTS[*]}), data in $STATE"
  # Together: a node finishes starting only once a majority of the controller quorum is up.
  local pids=() failed=0
  for ((n = 1; n <= COUNT; n++)); do
    node_sh "$n" start &
    pids+=("$!")
  done
  for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
  if [ "$failed" = 1 ]; then
    log "a node did not start"
    exit 1
  fi
  log "ready: KAFKA_BROKERS=$(bootstrap)"
}

bootstrap() {
  local list=""
  for ((i = 0; i < COUNT; i++)); do list+="${list:+,}127.0.0.1:${PORTS[i]}"; done
  echo "$list"
}

case "${1:-}" in
  start) start_all ;;
  stop)
    # Together: a node stopping after the others finds no controller quorum for its controlled shutdown and waits out
    # the 30 s kafka.sh gives it.
    for ((n = 1; n <= COUNT; n++)); do if [ -d "$STATE/node-$n" ]; then node_sh "$n" stop & fi; done
    wait
    ;;
  status)
    rc=0
    for ((n = 1; n <= COUNT; n++)); do
      if [ -s "$STATE/cluster.id" ]; then node_sh "$n" status || rc=3; else echo "kafka node $n: not running"; rc=3; fi
    done
    exit $rc
    ;;
  kill) node_sh "${2:?node number}" kill ;;
  start-node) node_sh "${2:?node number}" start ;;
  brokers)
    echo "KAFKA_BROKERS=$(bootstrap)"
    echo "KAFKA_REPLICATION_FACTOR=$((COUNT < 3 ? COUNT : 3))"
    ;;
  *) echo "usage: $0 start|stop|status|kill N|start-node N|brokers" >&2; exit 2 ;;
esac
