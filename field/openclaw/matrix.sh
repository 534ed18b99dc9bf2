#!/usr/bin/env bash
# The version matrix of issue 17: each OpenClaw release's session store crash-checked under
# every model (field/openclaw/run.sh), one workload at a time, one table, and the expectations
# below checked. Fetches Node and the releases from the npm registry into a cache
# (field/openclaw/install.sh).
#
#   bash field/openclaw/matrix.sh                             # the rows below
#   bash field/openclaw/matrix.sh 2026.5.2/ops 2026.7.1/race  # any others (no expectation checked)
# Exit 0 when every expectation held.
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
out=${OUT:-$(mktemp -d)}
mkdir -p "$out"
# release/workload -> what must hold (pass/fail per model, or "lacks")
declare -A expect=(
  # create: 3 sessions, transcript first, registry rotation forced on every write.
  [2026.4.22/create]="process=fail ordered=fail posix=fail"   # #68229: rotation renames the registry away
  [2026.4.24/create]="process=pass ordered=pass posix=pass"   # the first release whose rotation copies (bisect.sh)
  [2026.4.25/create]="process=pass ordered=pass posix=pass"   # PR #71359: rotation copies
  [2026.6.1/create]="process=pass ordered=fail posix=fail"    # the registry written with durable: false
  # ops: the gateway's create, append, reset, delete and a registry cap, as the release runs them.
  [2026.4.22/ops]="process=fail ordered=fail posix=fail"      # #68229 again, in the cap's save
  [2026.4.25/ops]="process=pass ordered=fail posix=fail"      # transcripts, archives never fsynced
  [2026.6.1/ops]="process=pass ordered=fail posix=fail"
  # race: two processes creating at once (process model: no crash needed to lose one).
  [2026.4.25/race]="process=pass"                             # the cross-process lock serializes them
  [2026.6.1/race]="process=fail"                              # no cross-process lock: a lost update
  # The SQLite era's session writes (judged on the JSON view of its database).
  [2026.9.6/ops]="process=pass ordered=fail posix=fail"      # WAL commits never fsynced (synchronous=NORMAL)
  # migrate: the one-time import of the JSON layout into SQLite, every session kept somewhere.
  [2026.9.6/migrate]="process=pass ordered=pass posix=fail"  # the database's directory never fsynced
)
rows=("$@")
[ ${#rows[@]} -gt 0 ] || rows=(2026.4.22/create 2026.4.24/create 2026.4.25/create 2026.6.1/create
  2026.4.22/ops 2026.4.25/ops 2026.6.1/ops 2026.9.6/ops 2026.4.25/race 2026.6.1/race 2026.9.6/migrate)
# 2026.9.6's rows are the long ones: ops about 40 min (most of it diagnosing, a Node checker per
# image), migrate about 15.
echo "| release | workload | model | crash points | failing points | maps to | first failing call | expected | held |"
echo "|---|---|---|---|---|---|---|---|---|"
all_held=0
for row in "${rows[@]}"; do
  v=${row%/*} workload=${row#*/}
  options=(--no-stacks)
  case $workload in
    race) options+=(--model process) ;;
  esac
  bash "$here/field/openclaw/run.sh" "$v" "$out" "$workload" "${options[@]}"
  status=$?
  python3 - "$out" "$v" "$workload" "$status" "${expect[$row]:-}" <<'PY' || all_held=1
import json, sys
out, version, workload, status, expected = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
name = f"{version}-{workload}"
want = dict(part.split("=") for part in expected.split() if "=" in part)
if status in (3, 4):
    why = open(f"{out}/{name}.lacks").read().strip() if status == 3 else open(f"{out}/{name}.install.err").read().strip()
    held = (expected == "lacks") if status == 3 else False
    print(f"| {version} | {workload} | - | - | - | - | {why} | {expected or '-'} | {'yes' if held else 'NO'} |")
    sys.exit(0 if held or not expected else 1)
try:
    run = json.load(open(f"{out}/{name}.json"))
except ValueError:
    print(f"| {version} | {workload} | - | - | - | - | trace failed (exit {status}): see {out}/{name}.err | {expected or '-'} | NO |")
    sys.exit(1)
all_held = True
for result in run["results"]:
    model = result["model"]
    failing = result["failing_points"]
    vulns = [v for v in run["vulnerabilities"] if model in v["models"]]
    kinds = sorted({v["kind"] for v in vulns})
    renames = [v for v in vulns if v["kind"] == "atomicity" and all(c.startswith("the rename") for c in v["calls"])]
    if renames:
        maps = "#68229 (the registry renamed away before its successor)"
    elif "end-state" in kinds:
        maps = "lost update: no crash needed (no cross-process lock)"
    elif failing and model != "process":
        maps = f"not made durable ({', '.join(kinds)})"
    else:
        maps = "-"
    first = result["failures"][0] if result["failures"] else None
    call = f"`{first['call'][:60]}` (log line {first['log_line']})" if first and first["call"] else "-"
    replay = f"`crashsim trace --from {out}/{name}.run --model {model} --checker \"$(cat {out}/{name}.checker)\"`" if first else ""
    verdict = "fail" if failing else "pass"
    held = want.get(model) in (None, verdict)
    all_held &= held
    print(f"| {version} | {workload} | {model} | {result['crash_points']} | {failing} | {maps} | {call} {replay} | {want.get(model, '-')} | {'yes' if held else 'NO'} |")
sys.exit(0 if all_held else 1)
PY
done
echo
echo "runs kept in $out: each failing row's command re-checks its run exactly"
exit $all_held
