#!/usr/bin/env bash
# The version matrix of issue 17: each OpenClaw release's session store crash-checked under
# every model (field/openclaw/run.sh), one table, and the expectations below checked. Fetches
# Node and the releases from the npm registry into a cache (field/openclaw/install.sh).
#
#   bash field/openclaw/matrix.sh                       # the releases below
#   bash field/openclaw/matrix.sh 2026.5.2 2026.7.1     # any others (no expectation checked)
# Exit 0 when every expectation held.
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
out=${OUT:-$(mktemp -d)}
mkdir -p "$out"
# release -> what must hold (pass/fail per model, or "lacks" for a release without the JSON store)
declare -A expect=(
  [2026.4.22]="process=fail ordered=fail posix=fail"  # #68229: rotation renames the registry away
  [2026.4.24]="process=pass ordered=pass posix=pass"  # the first release whose rotation copies (bisect.sh)
  [2026.4.25]="process=pass ordered=pass posix=pass"  # PR #71359: rotation copies
  [2026.6.1]="process=pass ordered=fail posix=fail"   # the registry written with durable: false
  [2026.9.6]="lacks"                                  # sessions moved to SQLite
)
versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(2026.4.22 2026.4.24 2026.4.25 2026.6.1 2026.9.6)
echo "| release | model | crash points | failing points | maps to | first failing call | expected | held |"
echo "|---|---|---|---|---|---|---|---|"
all_held=0
for v in "${versions[@]}"; do
  bash "$here/field/openclaw/run.sh" "$v" "$out" --no-stacks
  status=$?
  python3 - "$out" "$v" "$status" "${expect[$v]:-}" <<'PY' || all_held=1
import json, sys
out, version, status, expected = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
want = dict(part.split("=") for part in expected.split() if "=" in part)
if status in (3, 4):
    why = open(f"{out}/{version}.lacks").read().strip() if status == 3 else open(f"{out}/{version}.install.err").read().strip()
    held = (expected == "lacks") if status == 3 else False
    print(f"| {version} | - | - | - | - | {why} | {expected or '-'} | {'yes' if held else 'NO'} |")
    sys.exit(0 if held or not expected else 1)
run = json.load(open(f"{out}/{version}.json"))
failed_held = True
for result in run["results"]:
    model = result["model"]
    failing = result["failing_points"]
    vulns = [v for v in run["vulnerabilities"] if model in v["models"]]
    renames = [v for v in vulns if v["kind"] == "atomicity" and all(c.startswith("the rename") for c in v["calls"])]
    if renames:
        maps = "#68229 (the registry renamed away before its successor)"
    elif failing and model != "process":
        maps = "#77783 family (the registry not made durable)"
    else:
        maps = "-"
    first = result["failures"][0] if result["failures"] else None
    call = f"`{first['call'][:60]}` (log line {first['log_line']})" if first and first["call"] else "-"
    checker = 'crashsim check-dir . --crash-image --acknowledged "$CRASHSIM_STDOUT"'
    replay = f"`crashsim trace --from {out}/{version}.run --model {model} --checker '{checker}'`" if first else ""
    verdict = "fail" if failing else "pass"
    held = want.get(model) in (None, verdict)
    failed_held &= held
    print(f"| {version} | {model} | {result['crash_points']} | {failing} | {maps} | {call} {replay} | {want.get(model, '-')} | {'yes' if held else 'NO'} |")
sys.exit(0 if failed_held else 1)
PY
done
echo
echo "runs kept in $out: each row's command re-checks its run exactly (crashsim: the checkout's target/release/crashsim, or an installed one)"
exit $all_held
