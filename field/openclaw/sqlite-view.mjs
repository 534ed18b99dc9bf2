// The SQLite era's sessions as the JSON layout, so one checker (`crashsim check-dir`) judges
// every release: reads the agent database an OpenClaw release since 2026.8 keeps beside its
// sessions (openclaw-agent.sqlite) in IMAGE and writes into VIEW a sessions.json (each
// session_nodes row: key -> {sessionId: current_session_id, sessionFile: <id>.jsonl}) and one
// <id>.jsonl per session holding its transcript_events in order. Every other file of IMAGE is
// copied, a zstd-compressed archive (.zst) decompressed, so what archives hold can be searched.
// An image without the database (or its tables) gives a view without sessions.json.
//
// With --json-layout DIR (the one-time import of a JSON layout into the database): DIR's files
// come first (its sessions.json and transcripts), and the database's sessions are laid over
// them, key by key, so the view holds every session where the next start finds it, in the JSON
// layout or in the database.
//
//   node sqlite-view.mjs IMAGE VIEW [--json-layout DIR]
// Exit 0 with the view written, 1 when the database cannot be read (corrupt, or failing its
// integrity check), 2 on bad arguments.
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { DatabaseSync } from "node:sqlite";

const args = process.argv.slice(2);
const layoutAt = args.indexOf("--json-layout");
const layout = layoutAt >= 0 ? args.splice(layoutAt, 2)[1] : null;
const [image, view] = args;
if (!image || !view || args.length !== 2 || (layoutAt >= 0 && !layout)) {
  console.error("usage: node sqlite-view.mjs IMAGE VIEW [--json-layout DIR]");
  process.exit(2);
}
const DATABASE = "openclaw-agent.sqlite";
fs.mkdirSync(view, { recursive: true });

// Copies DIR's regular files into the view (a missing DIR holds none).
function copyFiles(dir) {
  if (!fs.existsSync(dir)) return;
  for (const name of fs.readdirSync(dir)) {
    const from = path.join(dir, name);
    if (name.startsWith(DATABASE) || !fs.statSync(from).isFile()) continue;
    if (name.endsWith(".zst")) {
      try {
        fs.writeFileSync(path.join(view, name.slice(0, -4)), zlib.zstdDecompressSync(fs.readFileSync(from)));
        continue;
      } catch {
        // A torn archive is copied as it is: what it holds cannot be read either way.
      }
    }
    fs.copyFileSync(from, path.join(view, name));
  }
}

// The JSON layout's registry, when it can be read (a torn one stays in the view as it is).
function legacyRegistry() {
  try {
    return JSON.parse(fs.readFileSync(path.join(layout, "sessions.json"), "utf8"));
  } catch {
    return null;
  }
}

if (layout) copyFiles(layout);
copyFiles(image);
if (!fs.existsSync(path.join(image, DATABASE))) process.exit(0);

const event = (row) =>
  row.event_json ?? (row.event_zstd ? zlib.zstdDecompressSync(Buffer.from(row.event_zstd)).toString("utf8") : "");
try {
  const db = new DatabaseSync(path.join(image, DATABASE));
  const check = Object.values(db.prepare("PRAGMA integrity_check").get())[0];
  if (check !== "ok") throw new Error(`integrity check: ${check}`);
  const tables = new Set(db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all().map((t) => t.name));
  if (!tables.has("session_nodes") || !tables.has("transcript_events")) process.exit(0);
  const registry = (layout && legacyRegistry()) || {};
  for (const node of db.prepare("SELECT session_key, current_session_id, updated_at FROM session_nodes ORDER BY session_key").all()) {
    registry[node.session_key] = {
      sessionId: node.current_session_id,
      sessionFile: `${node.current_session_id}.jsonl`,
      updatedAt: node.updated_at,
    };
  }
  fs.writeFileSync(path.join(view, "sessions.json"), JSON.stringify(registry, null, 2));
  const transcripts = new Map();
  for (const row of db.prepare("SELECT session_id, event_json, event_zstd FROM transcript_events ORDER BY session_id, seq").all()) {
    transcripts.set(row.session_id, (transcripts.get(row.session_id) ?? "") + event(row) + "\n");
  }
  for (const [session, text] of transcripts) fs.writeFileSync(path.join(view, `${session}.jsonl`), text);
} catch (e) {
  console.log(`${DATABASE} cannot be read: ${e.message}`);
  process.exit(1);
}
