#!/usr/bin/env bash
# Which OpenClaw release fixed it: given a release that fails and a later one that passes under
# MODELS (default process), finds the first release that passes among npm's versions between
# them, running field/openclaw/run.sh on each probe (each fetched once into the cache).
#
#   bash field/openclaw/bisect.sh 2026.4.22 2026.4.25            # which release fixed #68229
#   MODELS=ordered bash field/openclaw/bisect.sh 2026.6.1 2026.8.1
set -uo pipefail
failing=${1:?usage: bisect.sh FAILING_RELEASE PASSING_RELEASE}
passing=${2:?usage: bisect.sh FAILING_RELEASE PASSING_RELEASE}
models=${MODELS:-process}
here=$(cd "$(dirname "$0")/../.." && pwd)
out=${OUT:-$(mktemp -d)}
versions=$(npm view openclaw versions --json 2>/dev/null) || { echo "cannot list openclaw's versions from the npm registry" >&2; exit 2; }
mapfile -t between < <(python3 - "$failing" "$passing" "$versions" <<'PY'
import json, re, sys
lo, hi, listed = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
key = lambda v: tuple(int(x) for x in re.findall(r"\d+", v.split("-")[0]))
if key(lo) >= key(hi):
    sys.exit("the failing release must come before the passing one")
for v in sorted((v for v in listed if "-" not in v and key(lo) <= key(v) <= key(hi)), key=key):
    print(v)
PY
) || exit 2
[ "${between[0]:-}" = "$failing" ] && [ "${between[-1]:-}" = "$passing" ] || { echo "$failing or $passing is not a release on npm" >&2; exit 2; }
passes() {
  bash "$here/field/openclaw/run.sh" "$1" "$out" --no-stacks --no-diagnosis --model "$models" >/dev/null 2>&1
  local status=$?
  [ $status -le 1 ] || { echo "openclaw@$1 could not be checked (run.sh exit $status)" >&2; exit 2; }
  echo "openclaw@$1: $([ $status -eq 0 ] && echo passes || echo fails) under $models" >&2
  return $status
}
passes "$failing" && { echo "openclaw@$failing passes under $models: nothing to bisect" >&2; exit 2; }
passes "$passing" || { echo "openclaw@$passing fails under $models: nothing to bisect" >&2; exit 2; }
lo=0 hi=$(( ${#between[@]} - 1 ))
while [ $((hi - lo)) -gt 1 ]; do
  mid=$(( (lo + hi) / 2 ))
  if passes "${between[$mid]}"; then hi=$mid; else lo=$mid; fi
done
echo "first release that passes under $models: openclaw@${between[$hi]} (the last that fails: ${between[$lo]})"
