#!/usr/bin/env bash
# Local S3-compatible object store for the S3 content store backend: S3Proxy (org.gaul:s3proxy, jar-with-dependencies
# from Maven Central) over jclouds' filesystem backend, bound to 127.0.0.1. Objects live under <repo>/.local/s3proxy.
#
# Usage: infra/s3proxy/s3proxy.sh {fetch|start|stop|status}
#
# Environment (all optional):
#   S3PROXY_PORT          HTTP port on 127.0.0.1                          (default 8090)
#   S3PROXY_IDENTITY      access key id clients sign with                 (default local-identity)
#   S3PROXY_CREDENTIAL    secret access key                               (default local-credential)
#   S3PROXY_BUCKETS       buckets to have at start, space-separated        (default orchestrator-cas)
#   S3PROXY_STATE_DIR     pid file, log, properties and the object data   (default <repo>/.local/s3proxy)
#   S3PROXY_JAVA          java binary (>= 11; else JAVA_HOME, PATH, /usr/lib/jvm)
#   S3PROXY_TIMEOUT       seconds to wait for it to answer                (default 60)
#   MAVEN_REPO            local Maven repo (default ~/.m2/repository)
set -euo pipefail

S3PROXY_VERSION=2.6.0
ARTIFACT="org.gaul:s3proxy:${S3PROXY_VERSION}:jar:jar-with-dependencies"

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
STATE="${S3PROXY_STATE_DIR:-$ROOT/.local/s3proxy}"
DATA="$STATE/data"
PIDFILE="$STATE/s3proxy.pid"
LOGFILE="$STATE/s3proxy.log"
PORT="${S3PROXY_PORT:-8090}"
TIMEOUT="${S3PROXY_TIMEOUT:-60}"
M2_REPO="${MAVEN_REPO:-$HOME/.m2/repository}"
JAR="$M2_REPO/org/gaul/s3proxy/$S3PROXY_VERSION/s3proxy-$S3PROXY_VERSION-jar-with-dependencies.jar"
URL="http://127.0.0.1:$PORT"

log() { printf '[s3proxy] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

cmd_fetch() {
  if [[ ! -f "$JAR" ]]; then
    command -v mvn >/dev/null || die "Maven (mvn) is needed to fetch $ARTIFACT from Maven Central"
    log "fetching $ARTIFACT from Maven Central"
    mkdir -p "$STATE"
    if ! mvn -q -B -Dstyle.color=never dependency:get -Dartifact="$ARTIFACT" -Dtransitive=false \
      ${MAVEN_REPO:+-Dmaven.repo.local="$MAVEN_REPO"} >"$STATE/fetch.log" 2>&1; then
      cat "$STATE/fetch.log" >&2
      die "fetching from Maven Central failed"
    fi
    [[ -f "$JAR" ]] || die "Maven finished but $JAR is missing (is MAVEN_REPO right?)"
  fi
  if [[ -f "$JAR.sha1" ]]; then
    local want got
    want="$(awk '{print $1}' "$JAR.sha1")"
    got="$(sha1sum "$JAR" | awk '{print $1}')"
    [[ "$want" == "$got" ]] || die "sha1 mismatch for $JAR (expected $want, got $got); delete it and retry"
  fi
}

java_major() {
  "$1" -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2; exit}' | sed 's/^1\.//'
}

find_java() { # S3Proxy 2.6 is compiled for Java 11 (class file 55)
  local c v
  local -a cands=()
  [[ -n "${S3PROXY_JAVA:-}" ]] && cands+=("$S3PROXY_JAVA")
  [[ -n "${JAVA_HOME:-}" ]] && cands+=("$JAVA_HOME/bin/java")
  command -v java >/dev/null && cands+=("$(command -v java)")
  for c in /usr/lib/jvm/*/bin/java; do [[ -x "$c" ]] && cands+=("$c"); done
  for c in "${cands[@]}"; do
    [[ -x "$c" ]] || continue
    v="$(java_major "$c")"
    if [[ "$v" =~ ^[0-9]+$ ]] && ((v >= 11)); then echo "$c"; return 0; fi
  done
  return 1
}

# Our process: the pid in the pid file, alive, and running the S3Proxy jar (not a reused pid).
running_pid() {
  [[ -f "$PIDFILE" ]] || return 1
  local pid
  pid="$(tr -dc '0-9' <"$PIDFILE")"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  [[ "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" == *s3proxy-*.jar* ]] || return 1
  echo "$pid"
}

# Any HTTP answer means it serves requests: an unsigned GET / gets 403 from S3Proxy with authorization on.
answers() { [[ "$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$URL/" 2>/dev/null || true)" =~ ^[1-5][0-9][0-9]$ ]]; }
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }

cmd_start() {
  local pid
  if pid="$(running_pid)" && answers; then log "already running (pid $pid) at $URL"; return 0; fi
  port_busy && die "127.0.0.1:$PORT is in use by a process this script did not start; set S3PROXY_PORT"
  cmd_fetch
  local java
  java="$(find_java)" || die "Java >= 11 is required; set S3PROXY_JAVA"
  mkdir -p "$DATA"
  # The filesystem backend keeps a bucket as a directory: creating it here lets CAS_S3_BUCKET be used at once.
  local bucket
  for bucket in ${S3PROXY_BUCKETS:-orchestrator-cas}; do mkdir -p "$DATA/$bucket"; done
  [[ -f "$STATE/.gitignore" ]] || echo '*' >"$STATE/.gitignore"
  # Signed requests (v2 or v4) with a fixed local key pair: clients exercise the same signing as against real S3.
  cat >"$STATE/s3proxy.properties" <<EOF
s3proxy.endpoint=$URL
s3proxy.authorization=aws-v2-or-v4
s3proxy.identity=${S3PROXY_IDENTITY:-local-identity}
s3proxy.credential=${S3PROXY_CREDENTIAL:-local-credential}
s3proxy.ignore-unknown-headers=true
jclouds.provider=filesystem
jclouds.filesystem.basedir=$DATA
EOF
  [[ -f "$LOGFILE" ]] && mv -f "$LOGFILE" "$LOGFILE.1"
  echo "### $(date -Is) starting S3Proxy $S3PROXY_VERSION with $java" >"$LOGFILE"
  (exec setsid nohup "$java" -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.net.preferIPv4Stack=true \
    -jar "$JAR" --properties "$STATE/s3proxy.properties" </dev/null >>"$LOGFILE" 2>&1) &
  pid=$!
  echo "$pid" >"$PIDFILE"
  local deadline=$((SECONDS + TIMEOUT))
  until answers; do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$PIDFILE"
      tail -n 30 "$LOGFILE" >&2
      die "S3Proxy exited during startup"
    fi
    ((SECONDS < deadline)) || { tail -n 30 "$LOGFILE" >&2; die "S3Proxy did not answer at $URL within ${TIMEOUT}s"; }
    sleep 0.3
  done
  log "ready at $URL (pid $pid, data in $DATA)"
}

cmd_stop() {
  local pid
  if ! pid="$(running_pid)"; then rm -f "$PIDFILE"; log "not running"; return 0; fi
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  rm -f "$PIDFILE"
  log "stopped"
}

cmd_status() {
  local pid
  if pid="$(running_pid)" && answers; then log "running (pid $pid) at $URL"; return 0; fi
  if answers; then log "not started by this script, but something answers at $URL"; return 0; fi
  log "not running ($URL)"
  exit 3
}

case "${1:-}" in
  fetch) cmd_fetch ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *) echo "usage: $0 {fetch|start|stop|status}" >&2; exit 2 ;;
esac
