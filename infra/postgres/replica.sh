#!/usr/bin/env bash
# A hot-standby streaming replica of the machine's Postgres, for DATABASE_READ_URL: a base backup of the primary taken
# with Debian's PostgreSQL 15 tools (pg_basebackup -R -X stream), run by pg_ctl as the postgres user (pg_ctl and
# postgres refuse root) on its own port. The copy is of the whole primary cluster: every database on it, test
# databases included, so the first start takes as long as copying them.
#
# Usage: infra/postgres/replica.sh {start|stop|status}
#   start    takes the base backup when there is none yet, then starts the standby and waits until it serves reads
#   stop     stops the standby (its data stays; the next start resumes streaming from where it stopped)
#   status   up or down, and the lag: seconds since the last replayed commit and bytes behind the primary
#
# The primary must accept replication connections from 127.0.0.1 (pg_hba.conf) and have a WAL sender to spare
# (max_wal_senders): `start` adds the one pg_hba.conf line when it is missing (Debian's file lists none for
# replication) and reloads the primary; it never restarts it. Nothing else of the primary is changed.
#
# Environment (all optional):
#   PG_PRIMARY_HOST, PG_PRIMARY_PORT   the primary                         (default 127.0.0.1, 5432)
#   PG_REPLICA_PORT                    the standby's port                  (default 5434; 5433 is PGlite's)
#   PG_REPLICA_STATE_DIR               data directory and log              (default <repo>/.local/pg-replica)
#   PG_BINDIR                          PostgreSQL binaries                 (default /usr/lib/postgresql/15/bin)
#   PG_PRIMARY_CONFIG_DIR              the primary's pg_hba.conf folder    (default /etc/postgresql/15/main)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
PRIMARY_HOST="${PG_PRIMARY_HOST:-127.0.0.1}"
PRIMARY_PORT="${PG_PRIMARY_PORT:-5432}"
PORT="${PG_REPLICA_PORT:-5434}"
STATE_DIR="${PG_REPLICA_STATE_DIR:-$ROOT/.local/pg-replica}"
DATA="$STATE_DIR/data"
LOG_FILE="$STATE_DIR/replica.log"
BINDIR="${PG_BINDIR:-/usr/lib/postgresql/15/bin}"
PRIMARY_CONFIG_DIR="${PG_PRIMARY_CONFIG_DIR:-/etc/postgresql/15/main}"
HBA_LINE="host replication all 127.0.0.1/32 trust"

log() { echo "pg-replica: $*" >&2; }
fail() { echo "pg-replica: ERROR: $*" >&2; exit 1; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# pg_ctl, pg_basebackup and postgres run as the postgres user, who owns the data directory.
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
primary_sql() { psql -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -U postgres -d postgres -XAtqc "$1"; }
replica_sql() { psql -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -XAtqc "$1"; }
running() { [ -f "$DATA/postmaster.pid" ] && as_postgres "$BINDIR/pg_ctl" -D "$DATA" status >/dev/null 2>&1; }

# The minimum the primary needs, done once: a pg_hba.conf line for replication connections from 127.0.0.1, and a
# WAL sender to spare. A changed pg_hba.conf is applied by a reload (pg_reload_conf), not a restart.
prepare_primary() {
  local hba
  hba="$(primary_sql 'SHOW hba_file')" || fail "cannot reach the primary at $PRIMARY_HOST:$PRIMARY_PORT"
  [ -n "$hba" ] || hba="$PRIMARY_CONFIG_DIR/pg_hba.conf"
  if ! grep -Eq '^[[:space:]]*host[[:space:]]+replication[[:space:]]+(all|postgres)[[:space:]]+127\.0\.0\.1/32[[:space:]]+trust' "$hba"; then
    [ -w "$hba" ] || fail "$hba lacks '$HBA_LINE' and is not writable here: add it and reload the primary"
    log "adding '$HBA_LINE' to $hba and reloading the primary"
    printf '\n# Streaming replicas on this machine (infra/postgres/replica.sh)\n%s\n' "$HBA_LINE" >>"$hba"
    primary_sql 'SELECT pg_reload_conf()' >/dev/null
  fi
  local level senders used
  level="$(primary_sql 'SHOW wal_level')"
  [ "$level" != minimal ] || fail "the primary has wal_level = minimal: set it to replica and restart the primary"
  senders="$(primary_sql 'SHOW max_wal_senders')"
  used="$(primary_sql 'SELECT count(*) FROM pg_stat_replication')"
  [ "$senders" -gt "$used" ] ||
    fail "the primary's $senders WAL senders are all in use: raise max_wal_senders (takes a restart of the primary)"
}

base_backup() {
  local size
  size="$(primary_sql 'SELECT pg_size_pretty(sum(pg_database_size(datname))) FROM pg_database')"
  log "copying the primary ($size in $(primary_sql 'SELECT count(*) FROM pg_database') databases) into $DATA"
  rm -rf "$DATA.partial"
  install -d -o postgres -g postgres -m 700 "$DATA.partial"
  # -R writes primary_conninfo and standby.signal; -X stream copies the WAL written during the backup too; -c fast
  # starts with an immediate checkpoint instead of waiting for the next one.
  if ! as_postgres "$BINDIR/pg_basebackup" -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -U postgres -D "$DATA.partial" \
    -R -X stream -c fast >>"$LOG_FILE" 2>&1; then
    tail -n 20 "$LOG_FILE" >&2
    fail "pg_basebackup failed (whole log: $LOG_FILE)"
  fi
  # Debian keeps postgresql.conf and pg_hba.conf in /etc, so the copy has neither: the standby gets its own. A hot
  # standby refuses to start with fewer of these than its primary has, so it takes the primary's values.
  local same
  same="$(primary_sql "SELECT string_agg(name || ' = ' || setting, E'\n') FROM pg_settings WHERE name IN
    ('max_connections', 'max_worker_processes', 'max_wal_senders', 'max_prepared_transactions',
     'max_locks_per_transaction')")"
  cat >"$DATA.partial/postgresql.conf" <<CONF
# The standby of $PRIMARY_HOST:$PRIMARY_PORT (infra/postgres/replica.sh); primary_conninfo is in postgresql.auto.conf.
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$STATE_DIR'
hot_standby = on
# Long reads on the standby hold back the primary's vacuum instead of being cancelled by replay conflicts.
hot_standby_feedback = on
$same
CONF
  printf 'local all all trust\nhost all all 127.0.0.1/32 trust\n' >"$DATA.partial/pg_hba.conf"
  : >"$DATA.partial/pg_ident.conf"
  chown postgres:postgres "$DATA.partial/postgresql.conf" "$DATA.partial/pg_hba.conf" "$DATA.partial/pg_ident.conf"
  mv "$DATA.partial" "$DATA"
}

cmd_start() {
  [ -x "$BINDIR/pg_basebackup" ] || fail "no PostgreSQL binaries in $BINDIR (apt-get install postgresql-15)"
  if running; then log "already running on 127.0.0.1:$PORT"; return 0; fi
  port_open "$PORT" && fail "127.0.0.1:$PORT is taken by another process"
  mkdir -p "$STATE_DIR"
  [ -f "$STATE_DIR/.gitignore" ] || echo '*' >"$STATE_DIR/.gitignore"
  # The postgres user writes the log and the socket here.
  chown postgres:postgres "$STATE_DIR"
  touch "$LOG_FILE" && chown postgres:postgres "$LOG_FILE"
  prepare_primary
  [ -f "$DATA/standby.signal" ] || base_backup
  log "starting the standby on 127.0.0.1:$PORT (data in $DATA)"
  as_postgres "$BINDIR/pg_ctl" -D "$DATA" -l "$LOG_FILE" -w -t 120 start >/dev/null ||
    { tail -n 20 "$LOG_FILE" >&2; fail "the standby did not start (log: $LOG_FILE)"; }
  for _ in $(seq 1 240); do
    [ "$(replica_sql 'SELECT pg_is_in_recovery()' 2>/dev/null)" = t ] && { log "up, streaming from $PRIMARY_HOST:$PRIMARY_PORT"; return 0; }
    sleep 0.5
  done
  fail "the standby does not answer on 127.0.0.1:$PORT (log: $LOG_FILE)"
}

cmd_stop() {
  running || { log "not running"; return 0; }
  as_postgres "$BINDIR/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
  log "stopped"
}

cmd_status() {
  if ! running; then echo "pg-replica: down"; return 3; fi
  # Seconds: since the last replayed commit, 0 when everything received is replayed (an idle primary is no lag).
  # Bytes: the primary's WAL position minus the standby's replay position.
  local lag primary_lsn
  lag="$(replica_sql "SELECT CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
                        ELSE round(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())::numeric, 3) END
                        || ' ' || pg_last_wal_replay_lsn() || ' ' || pg_is_wal_replay_paused()")" || {
    echo "pg-replica: running but not answering on 127.0.0.1:$PORT"; return 3
  }
  local seconds replay paused
  read -r seconds replay paused <<<"$lag"
  primary_lsn="$(primary_sql 'SELECT pg_current_wal_lsn()' 2>/dev/null || true)"
  local bytes="?"
  [ -n "$primary_lsn" ] && bytes="$(primary_sql "SELECT greatest(0, pg_wal_lsn_diff('$primary_lsn', '$replay'))")"
  echo "pg-replica: up on 127.0.0.1:$PORT, streaming from $PRIMARY_HOST:$PRIMARY_PORT; lag ${seconds}s, $bytes bytes behind (replayed to $replay$([ "$paused" = true ] && echo ', replay paused'))"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *) echo "usage: $0 {start|stop|status}" >&2; exit 2 ;;
esac
