// Judges a crash image of OpenClaw's state directory taken during the one-time import of the
// JSON session layout into SQLite: every session must be where the next start finds it, either
// still in the JSON layout (its key in agents/main/sessions/sessions.json, its message in its
// transcript there) or in the agent's database (its key in session_nodes, its message in
// transcript_events). A session only the import's archive still holds is lost to the running
// system (a person could restore it by hand; the report says so). Runs on the release's own
// Node, whose SQLite reads the release's schema.
//
//   node migrated.mjs SESSIONS    # SESSIONS: lines `session <key> <sessionId> <text>`
// Exit 0 when every session is found, 1 when one is lost or the database is unreadable, 2 on
// bad input.
import fs from "node:fs";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";

const sessionsDir = path.join("agents", "main", "sessions");
const database = path.join("agents", "main", "agent", "openclaw-agent.sqlite");
const archive = path.join("agents", "main", "session-sqlite-import-archive");

const file = process.argv[2];
if (!file) {
  console.error("usage: node migrated.mjs SESSIONS");
  process.exit(2);
}
let listed;
try {
  listed = fs.readFileSync(file, "utf8");
} catch (e) {
  console.error(`migrated.mjs: ${file}: ${e.message}`);
  process.exit(2);
}
const sessions = listed
  .split("\n")
  .map((line) => line.split(/\s+/))
  .filter((words) => words[0] === "session" && words.length >= 4)
  .map(([, key, id, text]) => ({ key, id, text }));
if (sessions.length === 0) {
  console.error(`migrated.mjs: ${file} names no session`);
  process.exit(2);
}

function inJson({ key, id, text }) {
  try {
    const entry = JSON.parse(fs.readFileSync(path.join(sessionsDir, "sessions.json"), "utf8"))[key];
    const name = path.basename(entry.sessionFile ?? `${id}.jsonl`);
    return entry.sessionId === id && fs.readFileSync(path.join(sessionsDir, name), "utf8").includes(text);
  } catch {
    return false;
  }
}

let db = null;
let unreadable = null;
if (fs.existsSync(database)) {
  try {
    db = new DatabaseSync(database);
    const check = db.prepare("PRAGMA integrity_check").get();
    if (Object.values(check)[0] !== "ok") unreadable = `${database} fails its integrity check: ${JSON.stringify(check)}`;
  } catch (e) {
    unreadable = `${database}: ${e.message}`;
  }
}

function inDatabase({ key, id, text }) {
  if (!db || unreadable) return false;
  try {
    const node = db.prepare("SELECT current_session_id AS id FROM session_nodes WHERE session_key = ?").get(key);
    const events = db.prepare("SELECT event_json AS json FROM transcript_events WHERE session_id = ?").all(id);
    return node?.id === id && events.some((e) => (e.json ?? "").includes(text));
  } catch {
    return false;
  }
}

function archived({ id }) {
  try {
    return fs.readdirSync(archive).some((name) => name.includes(`.${id}.jsonl.`));
  } catch {
    return false;
  }
}

const lost = sessions
  .filter((s) => !inJson(s) && !inDatabase(s))
  .map((s) => `${s.key} (session ${s.id}): in neither sessions.json nor the database; ${archived(s) ? "only the import archive holds its transcript" : "nowhere"}`);
if (unreadable) console.log(unreadable);
for (const line of lost) console.log(`lost: ${line}`);
if (lost.length || unreadable) process.exit(1);
console.log(`all ${sessions.length} sessions found`);
