#!/usr/bin/env bash
# The CI job: formatting, lints, docs, then exactly the test command README.md names.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy (the lean library alone, then everything)"
cargo clippy --workspace --all-targets --release -- -D warnings
cargo clippy --workspace --all-targets --release --all-features -- -D warnings
echo "== cargo doc (no warnings: every link resolves to a public item)"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --workspace --all-features --quiet
echo "== trace mode's tools (strace, python3, sqlite3)"
# Installed from Debian's packages when missing. When all of them run here (strace must be
# allowed to ptrace), the trace tests are required to run; otherwise they say why they skip.
missing=""
for tool in strace python3 sqlite3; do
  command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
if [ -n "$missing" ]; then
  echo "missing:$missing; installing with apt-get"
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  ($sudo apt-get update -qq && $sudo apt-get install -y -qq $missing) || echo "could not install:$missing (the trace tests will say they skip)"
fi
if strace -f -o /dev/null true 2>/dev/null && python3 -c '' && sqlite3 -version >/dev/null; then
  export CRASHSIM_TRACE_TOOLS=required
  echo "strace, python3 and sqlite3 run here: the trace tests are required"
else
  echo "trace mode's tools cannot all run here: the trace tests will say they skip"
fi
echo "== cargo test --release --workspace --all-features"
cargo test --release --workspace --all-features
