#!/usr/bin/env bash
# The CI job: formatting, lints, then exactly the test command README.md names.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --release -- -D warnings
echo "== cargo test --release --workspace"
cargo test --release --workspace
