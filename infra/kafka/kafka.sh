#!/usr/bin/env bash
# Local Kafka (KRaft) from Maven Central jars: fetch | format | start | wait | status | stop | kill.
# Data, logs and the classpath live under <repo>/.local/kafka (git-ignored). One node by default; infra/kafka/cluster.sh
# runs several of these, each with its own KAFKA_HOME_DIR, ports, KAFKA_NODE_ID, the shared KAFKA_QUORUM_VOTERS and
# KAFKA_CLUSTER_ID, and KAFKA_CLUSTER_REPLICATION (internal topics' replication; min.insync.replicas is one less, at most 2).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$HERE/pom.xml")"
STATE="${KAFKA_HOME_DIR:-$ROOT/.local/kafka}"
LIB="$STATE/lib-$KAFKA_VERSION"
DATA="$STATE/data"
LOGS="$STATE/logs"
PIDFILE="$STATE/kafka.pid"
PORT="${KAFKA_PORT:-9092}"
CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
HEAP="${KAFKA_HEAP_OPTS:--Xms256m -Xmx768m}"
START_TIMEOUT_S="${KAFKA_START_TIMEOUT_S:-90}"
NODE_ID="${KAFKA_NODE_ID:-1}"
VOTERS="${KAFKA_QUORUM_VOTERS:-$NODE_ID@127.0.0.1:$CONTROLLER_PORT}"
RF="${KAFKA_CLUSTER_REPLICATION:-1}"
MIN_ISR=$((RF > 2 ? 2 : (RF > 1 ? RF - 1 : 1)))

log() { printf '[kafka] %s\n' "$*" >&2; }
# shellcheck source=../download-progress.sh
source "$HERE/../download-progress.sh"

fetch() {
  if [ -f "$LIB/.complete" ]; then return 0; fi
  command -v mvn >/dev/null || { log "Maven (mvn) is needed to fetch Kafka $KAFKA_VERSION from Maven Central"; exit 1; }
  log "fetching Kafka $KAFKA_VERSION and its console tools from Maven Central into $LIB"
  local tmp="$LIB.tmp.$$"
  rm -rf "$tmp"
  mkdir -p "$STATE"
  # Maven 3.8 prints colour codes even in batch mode; its output is kept for when it fails.
  copy_jars() {
    mvn -q -B -f "$HERE/pom.xml" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp" \
      ${MAVEN_REPO:+-Dmaven.repo.local="$MAVEN_REPO"} >"$STATE/fetch.log" 2>&1
  }
  if ! download_with_progress kafka 56 copy_jars; then
    cat "$STATE/fetch.log" >&2
    log "fetching from Maven Central failed"
    exit 1
  fi
  touch "$tmp/.complete"
  rm -rf "$LIB"
  mv "$tmp" "$LIB"
}

running_pid() {
  [ -f "$PIDFILE" ] || return 1
  local pid
  pid="$(cat "$PIDFILE")"
  if kill -0 "$pid" 2>/dev/null; then echo "$pid"; return 0; fi
  return 1
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

render_config() {
  mkdir -p "$DATA" "$LOGS"
  sed -e "s#@DATA_DIR@#$DATA#" -e "s#@PORT@#$PORT#" -e "s#@CONTROLLER_PORT@#$CONTROLLER_PORT#" \
    -e "s#@NODE_ID@#$NODE_ID#" -e "s#@VOTERS@#$VOTERS#" -e "s#@RF@#$RF#" -e "s#@MIN_ISR@#$MIN_ISR#" \
    "$HERE/config/server.properties" > "$STATE/server.properties"
}

format() {
  fetch
  render_config
  if [ -f "$DATA/meta.properties" ]; then return 0; fi
  local cluster_id
  cluster_id="${KAFKA_CLUSTER_ID:-$(java -cp "$LIB/*" -Dlog4j.configuration="file:$HERE/config/tools-log4j.properties" \
    kafka.tools.StorageTool random-uuid)}"
  log "formatting KRaft storage in $DATA (cluster $cluster_id)"
  java -cp "$LIB/*" -Dlog4j.configuration="file:$HERE/config/tools-log4j.properties" \
    kafka.tools.StorageTool format -t "$cluster_id" -c "$STATE/server.properties" >/dev/null
}

# Whether the broker logged its start after byte `offset` of server.log as it was (inode `inode`). log4j rolls the
# file at 50 MB: when it rolled during this start, the rest of the old file is server.log.1 and the new one is read whole.
# Not `… | grep -q`: under pipefail, grep leaving at the first match kills the writer with SIGPIPE once more than a pipe
# buffer is left to read, and the pipeline then reads as "not started" (a busy broker logs megabytes while starting).
started_since() {
  local offset="$1" inode="$2"
  grep -q 'Kafka Server started' < <(
    if [ -n "$inode" ] && [ "$(stat -c %i "$LOGS/server.log" 2>/dev/null)" != "$inode" ]; then
      tail -c "+$((offset + 1))" "$LOGS/server.log.1" 2>/dev/null
      cat "$LOGS/server.log" 2>/dev/null
    else
      tail -c "+$((offset + 1))" "$LOGS/server.log" 2>/dev/null
    fi
  )
}

wait_ready() {
  local offset="${1:-0}" inode="${2:-}" deadline=$((SECONDS + START_TIMEOUT_S))
  while [ $SECONDS -lt $deadline ]; do
    if ! running_pid >/dev/null; then
      log "broker exited during start-up; last lines of $LOGS/server.log:"
      tail -n 30 "$LOGS/server.log" >&2 2>/dev/null || true
      tail -n 30 "$LOGS/stdout.log" >&2 2>/dev/null || true
      exit 1
    fi
    if port_open "$PORT" && started_since "$offset" "$inode"; then
      return 0
    fi
    sleep 0.5
  done
  log "broker not ready after ${START_TIMEOUT_S}s; last lines of $LOGS/server.log:"
  tail -n 30 "$LOGS/server.log" >&2 || true
  exit 1
}

start() {
  if pid="$(running_pid)"; then
    log "already running (pid $pid) on 127.0.0.1:$PORT"
    return 0
  fi
  if port_open "$PORT"; then
    log "127.0.0.1:$PORT is taken by another process; stop it or set KAFKA_PORT"
    exit 1
  fi
  format
  local offset=0 inode=''
  if [ -f "$LOGS/server.log" ]; then
    offset="$(stat -c %s "$LOGS/server.log")"
    inode="$(stat -c %i "$LOGS/server.log")"
  fi
  log "starting Kafka $KAFKA_VERSION on 127.0.0.1:$PORT (data in $DATA)"
  # setsid: the broker outlives the terminal's Ctrl-C; `stop` ends it with a controlled shutdown.
  # shellcheck disable=SC2086
  setsid nohup java $HEAP -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    -Dlog4j.configuration="file:$HERE/config/log4j.properties" -Dkafka.logs.dir="$LOGS" \
    -cp "$LIB/*" kafka.Kafka "$STATE/server.properties" >"$LOGS/stdout.log" 2>&1 </dev/null &
  echo $! > "$PIDFILE"
  wait_ready "$offset" "$inode"
  log "ready on 127.0.0.1:$PORT (pid $(cat "$PIDFILE"))"
}

stop() {
  local pid
  if ! pid="$(running_pid)"; then
    log "not running"
    rm -f "$PIDFILE"
    return 0
  fi
  log "stopping (pid $pid)"
  kill -TERM "$pid"
  for _ in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$PIDFILE"; log "stopped"; return 0; }
    sleep 0.5
  done
  log "no controlled shutdown after 30s; killing"
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$PIDFILE"
}

# SIGKILL, as a crashed machine would stop: nothing flushed, no controlled shutdown (chaos tests).
kill_hard() {
  local pid
  if ! pid="$(running_pid)"; then log "not running"; return 0; fi
  log "killing (pid $pid)"
  kill -KILL "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  rm -f "$PIDFILE"
}

status() {
  if pid="$(running_pid)" && port_open "$PORT"; then
    echo "kafka: running (pid $pid) on 127.0.0.1:$PORT, version $KAFKA_VERSION, data $DATA"
    return 0
  fi
  echo "kafka: not running"
  return 3
}

case "${1:-}" in
  fetch) fetch ;;
  format) format ;;
  start) start ;;
  wait) wait_ready 0 ;;
  stop) stop ;;
  kill) kill_hard ;;
  status) status ;;
  classpath) fetch; echo "$LIB/*" ;;
  *) echo "usage: $0 fetch|format|start|wait|status|stop|kill|classpath" >&2; exit 2 ;;
esac
