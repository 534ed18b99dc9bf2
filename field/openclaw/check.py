"""The session invariants on a crash image of an OpenClaw sessions directory (the cwd): every
`ack <key>` in $CRASHSIM_STDOUT is in sessions.json, every transcript of an acknowledged session
has an entry, and every entry has its transcript. (A transcript written before a crash and
never registered is left for recovery to adopt, as OpenClaw's doctor does: not a failure.)
Exit 0 when they hold."""
import json, os, sys

registry = {}
if os.path.exists("sessions.json"):
    try:
        registry = json.load(open("sessions.json"))
    except ValueError as e:
        sys.exit(f"sessions.json does not parse: {e}")
acked = [line.split()[1] for line in open(os.environ["CRASHSIM_STDOUT"]) if line.startswith("ack ")]
problems = [f"acknowledged {key} is not in sessions.json" for key in acked if key not in registry]
ids = {entry.get("sessionId") for entry in registry.values()}
acked_ids = {f"s{key.rsplit('k', 1)[1]}" for key in acked}
problems += [f"transcript {f} has no entry" for f in sorted(os.listdir("."))
             if f.endswith(".jsonl") and f[:-6] not in ids and f[:-6] in acked_ids]
problems += [f"{key}'s transcript is missing" for key, entry in registry.items()
             if not os.path.exists(os.path.basename(entry.get("sessionFile") or f"{entry.get('sessionId')}.jsonl"))]
if problems:
    sys.exit("\n".join(problems))
