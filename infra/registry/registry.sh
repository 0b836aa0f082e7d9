#!/usr/bin/env bash
# Local Confluent-API-compatible Schema Registry: Apicurio Registry (Quarkus fast-jar
# from Maven Central), SQL storage on the local Postgres so schema ids survive restarts.
#
# Usage: infra/registry/registry.sh {fetch|start|stop|status|wait}
#
# Environment (all optional):
#   SCHEMA_REGISTRY_PORT          HTTP port, bound to 127.0.0.1 only   (default 8081)
#   SCHEMA_REGISTRY_MGMT_PORT     health/metrics port, 127.0.0.1 only  (default 9081)
#   SCHEMA_REGISTRY_DB            Postgres database, created if missing (default schema_registry)
#   SCHEMA_REGISTRY_STORAGE       postgres | mem  (mem = H2 in memory, ids LOST on restart)
#   SCHEMA_REGISTRY_XMX           JVM max heap                          (default 384m)
#   SCHEMA_REGISTRY_JAVA_OPTS     more JVM options, split on spaces (e.g. -XX:TieredStopAtLevel=1
#                                 starts it faster on a small, busy machine)
#   SCHEMA_REGISTRY_TIMEOUT       seconds to wait for readiness         (default 90)
#   SCHEMA_REGISTRY_ACCESS_LOG    true to log every HTTP request        (default false)
#   SCHEMA_REGISTRY_JAVA          java binary to use (must be >= 21; else auto-detected)
#   SCHEMA_REGISTRY_STATE_DIR     pid file and log (default <repo>/.local/registry; a test's private registry)
#   PGHOST / PGPORT / PGPASSWORD  Postgres connection (user is always postgres)
#   MAVEN_REPO                    local Maven repo (default ~/.m2/repository)
set -euo pipefail

APICURIO_VERSION=3.3.3
ARTIFACT="io.apicurio:apicurio-registry-app:${APICURIO_VERSION}:tar.gz:all"

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
STATE_DIR="${SCHEMA_REGISTRY_STATE_DIR:-$ROOT/.local/registry}"
# The unpacked app is shared by every instance, whatever its state dir.
APP_DIR="$ROOT/.local/registry/apicurio-$APICURIO_VERSION"
PID_FILE="$STATE_DIR/registry.pid"
LOG_FILE="$STATE_DIR/registry.log"

HOST=127.0.0.1
PORT="${SCHEMA_REGISTRY_PORT:-8081}"
MGMT_PORT="${SCHEMA_REGISTRY_MGMT_PORT:-9081}"
DB_NAME="${SCHEMA_REGISTRY_DB:-schema_registry}"
STORAGE="${SCHEMA_REGISTRY_STORAGE:-postgres}"
XMX="${SCHEMA_REGISTRY_XMX:-384m}"
TIMEOUT="${SCHEMA_REGISTRY_TIMEOUT:-90}"
ACCESS_LOG="${SCHEMA_REGISTRY_ACCESS_LOG:-false}"
PG_HOST="${PGHOST:-127.0.0.1}"
PG_PORT="${PGPORT:-5432}"
PG_USER=postgres
M2_REPO="${MAVEN_REPO:-$HOME/.m2/repository}"

BASE_URL="http://$HOST:$PORT"
CCOMPAT_URL="$BASE_URL/apis/ccompat/v7"
# Readiness probe: the Confluent-compatible API itself (200 once storage is ready).
PROBE_URL="$CCOMPAT_URL/subjects"

log() { echo "registry: $*"; }
die() { echo "registry: ERROR: $*" >&2; exit 1; }
# shellcheck source=../download-progress.sh
source "$SCRIPT_DIR/../download-progress.sh"

log_tail() {
  if [[ -f "$LOG_FILE" ]]; then
    echo "---- last 40 lines of $LOG_FILE ----" >&2
    tail -n 40 "$LOG_FILE" >&2 || true
    echo "----" >&2
  fi
}

# ---------------------------------------------------------------------------- fetch
tarball_path() {
  echo "$M2_REPO/io/apicurio/apicurio-registry-app/$APICURIO_VERSION/apicurio-registry-app-$APICURIO_VERSION-all.tar.gz"
}

ensure_state_dir() {
  mkdir -p "$STATE_DIR"
  # never let the unpacked ~170 MB app or the logs end up in git, whatever the repo's .gitignore says
  [[ -f "$STATE_DIR/.gitignore" ]] || echo '*' >"$STATE_DIR/.gitignore"
}

cmd_fetch() {
  ensure_state_dir
  if [[ -f "$APP_DIR/quarkus-run.jar" ]]; then
    log "Apicurio $APICURIO_VERSION already unpacked in $APP_DIR"
    return 0
  fi
  local tgz
  tgz="$(tarball_path)"
  if [[ ! -f "$tgz" ]]; then
    command -v mvn >/dev/null || die "mvn not found; needed to download $ARTIFACT from Maven Central"
    log "downloading $ARTIFACT via Maven (about 150 MB, once) ..."
    download_with_progress registry 150 mvn -q -B -Dstyle.color=never dependency:get -Dartifact="$ARTIFACT" \
      -Dtransitive=false ${MAVEN_REPO:+-Dmaven.repo.local="$MAVEN_REPO"}
    [[ -f "$tgz" ]] || die "Maven finished but $tgz is missing (is MAVEN_REPO right?)"
  fi
  if [[ -f "$tgz.sha1" ]] && command -v sha1sum >/dev/null; then
    local want got
    want="$(awk '{print $1}' "$tgz.sha1")"
    got="$(sha1sum "$tgz" | awk '{print $1}')"
    [[ "$want" == "$got" ]] || die "sha1 mismatch for $tgz (expected $want, got $got); delete it and retry"
  fi
  local tmp="$STATE_DIR/.unpack.$$"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  tar -xzf "$tgz" -C "$tmp"
  [[ -f "$tmp/quarkus-run.jar" ]] || { rm -rf "$tmp"; die "unexpected archive layout: no quarkus-run.jar in $tgz"; }
  rm -rf "$APP_DIR"
  mkdir -p "$(dirname "$APP_DIR")"
  mv "$tmp" "$APP_DIR"
  log "unpacked Apicurio $APICURIO_VERSION into $APP_DIR"
}

# ---------------------------------------------------------------------------- helpers
java_major() { # prints the feature version of the given java binary, or nothing
  "$1" -XshowSettings:properties -version 2>&1 \
    | awk -F'= ' '/java.specification.version/ {print $2; exit}' | sed 's/^1\.//'
}

find_java() { # Apicurio 3.3 is compiled for Java 21 (class file 65)
  local c v
  local -a cands=()
  [[ -n "${SCHEMA_REGISTRY_JAVA:-}" ]] && cands+=("$SCHEMA_REGISTRY_JAVA")
  [[ -n "${JAVA_HOME:-}" ]] && cands+=("$JAVA_HOME/bin/java")
  command -v java >/dev/null && cands+=("$(command -v java)")
  for c in /usr/lib/jvm/*/bin/java /opt/java/*/bin/java; do [[ -x "$c" ]] && cands+=("$c"); done
  for c in "${cands[@]}"; do
    [[ -x "$c" ]] || continue
    v="$(java_major "$c")"
    if [[ "$v" =~ ^[0-9]+$ ]] && (( v >= 21 )); then echo "$c"; return 0; fi
  done
  return 1
}

http_code() { curl -s -o /dev/null -m 3 -w '%{http_code}' "$1" 2>/dev/null || true; }
is_healthy() { [[ "$(http_code "$PROBE_URL")" == 200 ]]; }

read_pid() { [[ -f "$PID_FILE" ]] && tr -dc '0-9' <"$PID_FILE" || true; }

# Our process = pid from the pid file that is alive AND is Apicurio (guards against pid reuse).
running_pid() {
  local pid
  pid="$(read_pid)"
  [[ -n "$pid" ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  local cmdline
  cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
  [[ "$cmdline" == *quarkus-run.jar* ]] || return 1
  echo "$pid"
}

port_busy() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

ensure_database() {
  command -v psql >/dev/null || die "psql not found (needed to create database '$DB_NAME')"
  [[ "$DB_NAME" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "invalid SCHEMA_REGISTRY_DB '$DB_NAME'"
  local -a psql_cmd=(psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres -v ON_ERROR_STOP=1 -tAqX)
  local exists
  exists="$("${psql_cmd[@]}" -c "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")" \
    || die "cannot connect to Postgres at $PG_HOST:$PG_PORT as $PG_USER"
  if [[ "$exists" != 1 ]]; then
    "${psql_cmd[@]}" -c "CREATE DATABASE \"$DB_NAME\"" >/dev/null
    log "created Postgres database '$DB_NAME'"
  fi
}

wait_ready() { # $1 = pid to watch (optional)
  local pid="${1:-}" deadline=$((SECONDS + TIMEOUT))
  while (( SECONDS < deadline )); do
    if is_healthy; then return 0; fi
    if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then
      echo "registry: ERROR: Apicurio process $pid exited during startup" >&2
      rm -f "$PID_FILE"
      log_tail
      return 1
    fi
    sleep 0.5
  done
  echo "registry: ERROR: not ready at $PROBE_URL after ${TIMEOUT}s" >&2
  log_tail
  return 1
}

# ---------------------------------------------------------------------------- start
cmd_start() {
  local pid
  if pid="$(running_pid)"; then
    if is_healthy; then
      log "already running (pid $pid) at $CCOMPAT_URL"
      return 0
    fi
    log "process $pid exists but is not ready yet; waiting ..."
    wait_ready "$pid" || exit 1
    log "ready at $CCOMPAT_URL"
    return 0
  fi
  rm -f "$PID_FILE"
  port_busy "$PORT" && die "port $HOST:$PORT is already in use by another process (not started by this script)"
  port_busy "$MGMT_PORT" && die "management port $HOST:$MGMT_PORT is in use; set SCHEMA_REGISTRY_MGMT_PORT"

  cmd_fetch
  local java
  java="$(find_java)" || die "Java >= 21 is required (Apicurio $APICURIO_VERSION); set SCHEMA_REGISTRY_JAVA"

  local -a props=(
    # --- network: loopback only, nothing else -----------------------------------
    -Dquarkus.http.host="$HOST"
    -Dquarkus.http.port="$PORT"
    -Dquarkus.management.host="$HOST"      # health/metrics interface (default 0.0.0.0:9000)
    -Dquarkus.management.port="$MGMT_PORT"
    -Dquarkus.otel.sdk.disabled=true       # no OTLP export (default, made explicit)
    -Dapicurio.usage.telemetry.enabled=false
    -Dapicurio.events.ksink=                # no CloudEvents sink
    # --- auth off (dev only) ----------------------------------------------------
    -Dapicurio.authn.enabled=false
    -Dquarkus.oidc.tenant-enabled=false
    -Dapicurio.auth.role-based-authorization=false
    # --- Confluent-compatible (ccompat) behaviour -------------------------------
    # Schema id = Apicurio *content* id (not the per-version global id): the same schema
    # gets the same id under every subject, exactly like Confluent. Keep false.
    -Dapicurio.ccompat.legacy-id-mode.enabled=false
    # Keep the default (false): in 3.3.x register/lookup in a subject first match the raw
    # content hash and then fall back to the canonical hash anyway, so a reformatted copy of
    # an already registered schema still gets its existing id (checked with the kafkajs client).
    -Dapicurio.ccompat.use-canonical-hash=false
    # Subjects map 1:1 to artifacts in the default group (no "group:artifact" parsing).
    -Dapicurio.ccompat.group-concat.enabled=false
    # Confluent's global default compatibility is BACKWARD (Apicurio's is NONE). This is
    # also what GET /config/{subject} reports for subjects without their own level, which
    # @kafkajs/confluent-schema-registry compares against its `compatibility` option.
    -Dapicurio.rules.global.compatibility=BACKWARD
    # Allow DELETE /subjects/... like Confluent (handy for tests).
    -Dapicurio.rest.deletion.artifact.enabled=true
    -Dapicurio.rest.deletion.artifact-version.enabled=true
    -Dapicurio.rest.deletion.group.enabled=true
    # --- logging ----------------------------------------------------------------
    -Dquarkus.http.access-log.enabled="$ACCESS_LOG"
    "-Dquarkus.log.console.format=%d{yyyy-MM-dd HH:mm:ss} %-5p [%c{3.}] (%t) %s%e%n"
  )
  local storage_desc
  case "$STORAGE" in
    postgres|postgresql|sql)
      ensure_database
      storage_desc="postgresql://$PG_HOST:$PG_PORT/$DB_NAME"
      props+=(
        -Dapicurio.storage.kind=sql
        -Dapicurio.storage.sql.kind=postgresql
        -Dapicurio.datasource.url="jdbc:postgresql://$PG_HOST:$PG_PORT/$DB_NAME"
        -Dapicurio.datasource.username="$PG_USER"
        -Dapicurio.datasource.password="${PGPASSWORD:-postgres}"
        # Pool: Apicurio's default opens 20 connections up front (max 100).
        -Dapicurio.datasource.jdbc.initial-size=2
        -Dapicurio.datasource.jdbc.min-size=2
        -Dapicurio.datasource.jdbc.max-size=10
      )
      ;;
    mem|memory|h2)
      log "WARNING: in-memory storage: schemas and ids are lost when the registry stops"
      storage_desc="in-memory H2 (not persistent)"
      props+=(-Dapicurio.storage.kind=sql -Dapicurio.storage.sql.kind=h2)
      ;;
    *) die "unknown SCHEMA_REGISTRY_STORAGE '$STORAGE' (postgres|mem)" ;;
  esac

  local -a jvm=(
    "-Xmx$XMX" -Xms64m
    -XX:+UseSerialGC -XX:MaxMetaspaceSize=192m -XX:ReservedCodeCacheSize=64m
    -XX:+ExitOnOutOfMemoryError
    -Djava.net.preferIPv4Stack=true -Dfile.encoding=UTF-8
  )
  if [[ -n "${SCHEMA_REGISTRY_JAVA_OPTS:-}" ]]; then
    # shellcheck disable=SC2206 # split on purpose: several options in one variable
    jvm+=($SCHEMA_REGISTRY_JAVA_OPTS)
  fi

  [[ -f "$LOG_FILE" ]] && mv -f "$LOG_FILE" "$LOG_FILE.1"
  {
    echo "### $(date -Is) starting Apicurio $APICURIO_VERSION ($STORAGE) with $java"
  } >"$LOG_FILE"
  local t0=$SECONDS
  (
    cd "$APP_DIR"
    exec setsid nohup "$java" "${jvm[@]}" "${props[@]}" -jar quarkus-run.jar </dev/null >>"$LOG_FILE" 2>&1
  ) &
  pid=$!
  echo "$pid" >"$PID_FILE"
  log "started pid $pid (log: $LOG_FILE); waiting for $PROBE_URL ..."
  if ! wait_ready "$pid"; then
    kill -0 "$pid" 2>/dev/null && echo "registry: process $pid is still running; '$0 stop' to kill it" >&2
    exit 1
  fi
  log "ready after $((SECONDS - t0))s at $CCOMPAT_URL (storage: $storage_desc)"
}

# ---------------------------------------------------------------------------- stop / status / wait
cmd_stop() {
  local pid
  if ! pid="$(running_pid)"; then
    rm -f "$PID_FILE"
    log "not running"
    return 0
  fi
  log "stopping pid $pid ..."
  kill -TERM "$pid" 2>/dev/null || true
  local i
  for ((i = 0; i < 60; i++)); do   # up to 30 s for a graceful shutdown
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "still alive after 30s, sending KILL"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.5
  fi
  rm -f "$PID_FILE"
  log "stopped"
}

cmd_status() {
  local pid
  if pid="$(running_pid)"; then
    if is_healthy; then
      log "running (pid $pid) at $CCOMPAT_URL"
      return 0
    fi
    log "process $pid alive but NOT healthy at $PROBE_URL"
    exit 3
  fi
  if is_healthy; then
    log "not started by this script, but something healthy answers at $CCOMPAT_URL"
    return 0
  fi
  log "not running ($CCOMPAT_URL)"
  exit 3
}

cmd_wait() {
  local pid
  pid="$(running_pid || true)"
  wait_ready "$pid" || exit 1
  log "ready at $CCOMPAT_URL"
}

case "${1:-}" in
  fetch) cmd_fetch ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  wait) cmd_wait ;;
  *)
    echo "usage: $0 {fetch|start|stop|status|wait}" >&2
    exit 2
    ;;
esac
