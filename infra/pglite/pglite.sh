#!/usr/bin/env bash
# Local pgvector for the semantic cache: PGlite (Postgres compiled to WASM; its `vector` extension is pgvector) served
# over the Postgres wire protocol by pglite-socket, with its data on disk. One database, one session: queries of all
# connections run one at a time.
#
# Usage: infra/pglite/pglite.sh {start|stop|status}
#
# Environment (all optional):
#   VECTOR_DATABASE_URL   the port is taken from it           (default postgres://postgres@127.0.0.1:5433/postgres)
#   PGLITE_STATE_DIR      data directory, pid file and log    (default <repo>/.local/pglite)
#   PGLITE_TIMEOUT        seconds to wait for the port        (default 90; the first start initialises the data)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
STATE_DIR="${PGLITE_STATE_DIR:-$ROOT/.local/pglite}"
PID_FILE="$STATE_DIR/pglite.pid"
LOG_FILE="$STATE_DIR/pglite.log"
URL="${VECTOR_DATABASE_URL:-postgres://postgres@127.0.0.1:5433/postgres}"
PORT="$(sed -E 's#^[a-z]+://([^@/]*@)?[^:/]+:([0-9]+).*#\2#;t;s#.*#5432#' <<<"$URL")"
TIMEOUT="${PGLITE_TIMEOUT:-90}"

log() { echo "pglite: $*"; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }
running_pid() {
  [[ -f "$PID_FILE" ]] || return 1
  local pid; pid="$(cat "$PID_FILE")"
  kill -0 "$pid" 2>/dev/null && echo "$pid"
}

cmd_start() {
  if running_pid >/dev/null; then log "already running on 127.0.0.1:$PORT"; return 0; fi
  port_open && { echo "pglite: ERROR: 127.0.0.1:$PORT is taken by another process" >&2; exit 1; }
  mkdir -p "$STATE_DIR/data"
  [[ -f "$STATE_DIR/.gitignore" ]] || echo '*' >"$STATE_DIR/.gitignore"
  log "starting on 127.0.0.1:$PORT (data in $STATE_DIR/data)"
  # `vector` alone is not found: the extension is loaded from its npm package. -m: connections served at once (their
  # queries still run one at a time).
  (
    cd "$ROOT"
    exec setsid nohup "$ROOT/node_modules/.bin/node" "$ROOT/node_modules/.bin/pglite-server" -d "$STATE_DIR/data" \
      -h 127.0.0.1 -p "$PORT" -e @electric-sql/pglite-pgvector:vector -m 16 </dev/null >>"$LOG_FILE" 2>&1
  ) &
  echo $! >"$PID_FILE"
  for _ in $(seq 1 $((TIMEOUT * 5))); do
    port_open && { log "up (pid $(cat "$PID_FILE"))"; return 0; }
    running_pid >/dev/null || break
    sleep 0.2
  done
  echo "pglite: ERROR: not listening on 127.0.0.1:$PORT; last lines of $LOG_FILE:" >&2
  tail -n 20 "$LOG_FILE" >&2 || true
  cmd_stop
  exit 1
}

cmd_stop() {
  local pid
  pid="$(running_pid)" || { rm -f "$PID_FILE"; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  rm -f "$PID_FILE"
  log "stopped"
}

cmd_status() {
  if port_open; then
    local pid; pid="$(running_pid)" && echo "pglite: up on 127.0.0.1:$PORT (pid $pid)" || echo "pglite: up on 127.0.0.1:$PORT (not started by this checkout)"
  else
    echo "pglite: down"; return 3
  fi
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *) echo "usage: $0 {start|stop|status}" >&2; exit 2 ;;
esac
