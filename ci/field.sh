#!/usr/bin/env bash
# The field checks, apart from CI's offline test suite: they fetch Node and OpenClaw's releases
# from the npm registry (into $CRASHSIM_CACHE, default ~/.cache/crashsim) and need strace, git,
# sqlite3 and python3. Prints FIELD.md's tables; exit 0 when every expectation of the OpenClaw
# version matrix held. With the releases cached, `cargo test` also runs tests/openclaw_release.rs.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --features cli -q
bash field/openclaw/matrix.sh
bash field/diagnose.sh
for version in 2026.4.22 2026.4.25; do bash field/openclaw/install.sh "$version" >/dev/null; done
cargo test --release --all-features --test openclaw_release
