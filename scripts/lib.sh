# Shared by the scripts in this folder: repo root, logging, and the one way dependencies get installed.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ROOT
# kafkajs 2.2.4 arms a negative timer on Node >= 24 (kafkajs issue #1751): harmless, and it would drown real warnings.
export NODE_OPTIONS="${NODE_OPTIONS:-} --enable-source-maps --disable-warning=TimeoutNegativeWarning"

say() { printf '\033[1m[%s]\033[0m %s\n' "${SCRIPT_NAME:-orchestrator}" "$*" >&2; }

# Installs dependencies when node_modules is missing or older than the lockfile; the pinned Node 24 comes with them.
ensure_deps() {
  # patches/ holds fixes to dependencies (patch-package, run by npm's postinstall): a newer patch means a new install.
  if [ ! -x "$ROOT/node_modules/.bin/node" ] || [ "$ROOT/package-lock.json" -nt "$ROOT/node_modules/.package-lock.json" ] ||
    [ -n "$(find "$ROOT/patches" -newer "$ROOT/node_modules/.package-lock.json" 2>/dev/null)" ]; then
    say "installing dependencies (npm ci)"
    (cd "$ROOT" && npm ci --no-audit --no-fund)
  fi
  PATH="$ROOT/node_modules/.bin:$PATH"
  export PATH
}

build() {
  say "compiling TypeScript"
  (cd "$ROOT" && tsc -p tsconfig.json && tsc -p apps/console/tsconfig.json)
  say "bundling the web console"
  (cd "$ROOT" && run_node dist/apps/console/src/build-console.js >/dev/null)
}

# node from node_modules/.bin is the pinned Node 24, whatever the machine's own node is.
run_node() { "$ROOT/node_modules/.bin/node" "$@"; }
