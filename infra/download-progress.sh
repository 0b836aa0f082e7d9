# Sourced by the stack's scripts. A first start downloads about 56 MB (Kafka) and 150 MB (the registry) from Maven
# Central through a quiet `mvn`; minutes of silence look like a hang, so this prints what has arrived every 5 s.
#   download_with_progress <label> <expected MB> <command...>   runs the command; its exit status is returned
download_with_progress() {
  local label=$1 expected=$2
  shift 2
  local repo="${MAVEN_REPO:-$HOME/.m2/repository}"
  mkdir -p "$repo"
  local before now
  before=$(du -sm "$repo" 2>/dev/null | cut -f1)
  "$@" &
  local pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 5
    kill -0 "$pid" 2>/dev/null || break
    now=$(du -sm "$repo" 2>/dev/null | cut -f1)
    printf '[%s] downloading from Maven Central: %s MB of about %s MB\n' "$label" "$((now - before))" "$expected" >&2
  done
  wait "$pid"
}
