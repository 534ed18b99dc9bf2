// Drives one OpenClaw release's own session store and prints what it acknowledged, in the
// language `crashsim check-dir --acknowledged` reads:
//   begin <op> <key>          an operation on <key> starts (it may be half done after a crash)
//   ack <key> <sessionId>     <key> is registered to <sessionId> (create, reset)
//   ack-line <sessionId> <m>  message <m> is in <sessionId>'s transcript (append)
//   ack-delete <key>          <key> is gone (delete, or evicted by maintenance)
//
// Workloads (each operation done the way the release does it, through its own code, found by
// what its dist/ chunks export, never by their hashed file names):
//   create  for each of 3 sessions: write its transcript, then register it through
//           updateSessionStore (crashsim's reference order), registry rotation forced.
//   ops     the gateway's own handlers, as `openclaw gateway` runs them: sessions.create (its
//           registry entry is written before its transcript), an append through
//           appendAssistantMessageToSessionTranscript, sessions.reset (archives the old
//           transcript as .reset.<ts>), sessions.delete (archives as .deleted.<ts>), and
//           maintenance on save (the release's own prune by age, then its cap).
//   race    2 creates, each holding the registry's read-modify-write open until the other
//           process arrives (--barrier DIR, 1 s at most): without a cross-process lock both
//           read the same registry and one create is lost; with one the second waits (and
//           prints `refused create <key>` when the release's lock wait times out).
//
//   legacy  (no release code) writes 3 sessions in the JSON layout into <dir>/agents/main/sessions,
//           as the releases before SQLite left them: run it before tracing migrate.
//   migrate the SQLite era's one-time import of that layout (the doctor's runDoctorSessionSqlite,
//           mode "import"), with <dir> as OpenClaw's state directory.
//
//   node driver.mjs <package dir> <dir> <workload> [--name P] [--barrier DIR]
// Exit 3 when the release lacks what the workload calls.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";

const workloads = ["create", "ops", "race", "legacy", "migrate"];
const usage = `usage: node driver.mjs <openclaw package dir> <dir> ${workloads.join("|")} [--name P] [--barrier DIR]`;
const [pkg, dirArg, workload, ...rest] = process.argv.slice(2);
if (!pkg || !dirArg || !workloads.includes(workload)) fail(2, usage);
const flags = {};
for (let i = 0; i < rest.length; i += 2) {
  if (!["--name", "--barrier"].includes(rest[i]) || rest[i + 1] === undefined) fail(2, usage);
  flags[rest[i].slice(2)] = rest[i + 1];
}
const name = flags.name ?? "p";
const dir = path.resolve(dirArg);
const storePath = path.join(dir, "sessions.json");
// The gateway's handlers find the store through the config: point it at <sessions dir>, from a
// state directory of this run's own outside it (what the crash images hold stays the store's).
// A migration's state directory is <dir> itself.
if (workload === "migrate") {
  process.env.OPENCLAW_STATE_DIR = dir;
  process.env.OPENCLAW_CONFIG_PATH = path.join(dir, "openclaw.json");
} else if (!process.env.OPENCLAW_CONFIG_PATH) {
  const state = fs.mkdtempSync(path.join(os.tmpdir(), "openclaw-state-"));
  process.env.OPENCLAW_STATE_DIR = state;
  process.env.OPENCLAW_CONFIG_PATH = path.join(state, "openclaw.json");
  fs.writeFileSync(process.env.OPENCLAW_CONFIG_PATH, JSON.stringify({ session: { store: storePath } }));
  // Some releases leave through their own exit hooks: removed on every way out.
  const remove = () => fs.rmSync(state, { recursive: true, force: true });
  process.on("exit", remove);
  process.on("beforeExit", remove);
}

function fail(status, message) {
  console.error(message);
  process.exit(status);
}

// Every transcript name, session id and key below is fixed by the workload (no random ids
// where the release lets the caller choose), so two runs name the same files.
const chunks = path.join(pkg, "dist");
// The release's chunks (thousands since 2026.8), read on the first lookup: legacy needs none.
let read = null;
function sources() {
  read ??= fs
    .readdirSync(chunks)
    .filter((f) => f.endsWith(".js") || f.endsWith(".mjs"))
    .sort()
    .map((file) => [file, fs.readFileSync(path.join(chunks, file), "utf8")]);
  return read;
}

async function exported(fn) {
  for (const [file, source] of sources()) {
    if (!source.includes(`function ${fn}(`)) continue;
    const exports = source.match(new RegExp(`export \\{[^}]*\\b${fn}\\b( as (\\w+))?`));
    if (!exports) continue;
    const module = await import(pathToFileURL(path.join(chunks, file)).href);
    const name = exports[2] ?? fn;
    if (typeof module[name] === "function") return module[name];
  }
  fail(3, `no chunk of ${chunks} exports ${fn}: this release lacks it`);
}

// The gateway's sessions.* handlers: one object per release up to 2026.6, one per method since.
async function gatewayHandlers() {
  const handlers = {};
  for (const [file, source] of sources()) {
    if (!/"sessions\.(create|reset|delete)": async/.test(source)) continue;
    const module = await import(pathToFileURL(path.join(chunks, file)).href);
    for (const value of Object.values(module)) {
      if (!value || typeof value !== "object") continue;
      for (const [method, handler] of Object.entries(value)) {
        if (method.startsWith("sessions.") && typeof handler === "function") handlers[method] ??= handler;
      }
    }
  }
  for (const method of ["sessions.create", "sessions.reset", "sessions.delete"]) {
    if (!handlers[method]) fail(3, `no chunk of ${chunks} exports the gateway's ${method} handler: this release lacks it`);
  }
  return handlers;
}

// A gateway request with nobody subscribed to session events and no chat running: the
// gateway's registries of runs and queued turns (Maps since 2026.8) are empty.
async function call(handlers, method, params) {
  const known = {
    getSessionEventSubscriberConnIds: () => new Set(),
    broadcastToConnIds: () => {},
    broadcast: () => {},
    loadGatewayModelCatalog: async () => [],
    getRuntimeConfig: () => ({ session: { store: storePath } }),
  };
  const context = new Proxy(known, {
    get: (target, property) =>
      property in target || !/^(chat[A-Z]|dedupe$)/.test(String(property)) ? target[property] : (target[property] = new Map()),
  });
  let answer;
  await handlers[method]({
    req: { id: method },
    params,
    context,
    client: null,
    isWebchatConnect: () => false,
    respond: (ok, payload, error) => (answer = { ok, payload, error }),
  });
  if (!answer?.ok) fail(1, `${method} ${JSON.stringify(params)} failed: ${JSON.stringify(answer?.error)}`);
  return answer.payload;
}

const rotateEveryWrite = { mode: "enforce", rotateBytes: 1, pruneAfterMs: 1e12, maxEntries: 1e6 };

if (workload === "create") {
  const updateSessionStore = await exported("updateSessionStore");
  for (let i = 0; i < 3; i++) {
    const sessionId = `s${i}`;
    const key = `agent:main:k${i}`;
    const sessionFile = path.join(dirArg, `${sessionId}.jsonl`);
    console.log(`begin create ${key}`);
    fs.writeFileSync(sessionFile, JSON.stringify({ type: "session", id: sessionId }) + "\n");
    await updateSessionStore(
      storePath,
      (store) => {
        store[key] = { sessionId, sessionFile, updatedAt: Date.now() };
      },
      { maintenanceOverride: rotateEveryWrite },
    );
    console.log(`ack ${key} ${sessionId}`);
  }
}

if (workload === "race") {
  const updateSessionStore = await exported("updateSessionStore");
  const barrier = flags.barrier ?? fail(2, "race needs --barrier DIR (outside the sessions directory)");
  fs.mkdirSync(barrier, { recursive: true });
  for (let i = 0; i < 2; i++) {
    const sessionId = `${name}s${i}`;
    const key = `agent:main:${name}k${i}`;
    const sessionFile = path.join(dirArg, `${sessionId}.jsonl`);
    console.log(`begin create ${key}`);
    fs.writeFileSync(sessionFile, JSON.stringify({ type: "session", id: sessionId }) + "\n");
    try {
      await updateSessionStore(storePath, async (store) => {
        fs.writeFileSync(path.join(barrier, `${name}.${i}`), "");
        const deadline = Date.now() + 1000;
        while (Date.now() < deadline && fs.readdirSync(barrier).filter((f) => f.endsWith(`.${i}`)).length < 2) {
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        store[key] = { sessionId, sessionFile, updatedAt: Date.now() };
      });
    } catch (error) {
      // The other process held the store's lock past the release's timeout (10 s: a loaded
      // machine under strace): the create failed and said so, which is no loss. The key stays
      // in flight (the checker ignores this line), and the run goes on.
      if (error?.code !== "OPENCLAW_SESSION_WRITE_LOCK_TIMEOUT") throw error;
      console.log(`refused create ${key}: ${error.code}`);
      continue;
    }
    console.log(`ack ${key} ${sessionId}`);
  }
}

if (workload === "ops") {
  const handlers = await gatewayHandlers();
  const append = await exported("appendAssistantMessageToSessionTranscript");
  const updateSessionStore = await exported("updateSessionStore");
  const keys = ["k0", "k1", "k2"].map((k) => `agent:main:${name}${k}`);
  const ids = {};
  for (const key of keys) {
    console.log(`begin create ${key}`);
    const created = await call(handlers, "sessions.create", { key });
    ids[key] = created.sessionId;
    console.log(`ack ${key} ${created.sessionId}`);
  }
  const [kept, reset, deleted] = keys;
  console.log(`begin append ${kept}`);
  const appended = await append({ sessionKey: kept, storePath, text: `m-${name}-0` });
  if (!appended.ok) fail(1, `append failed: ${appended.reason}`);
  console.log(`ack-line ${ids[kept]} m-${name}-0`);
  console.log(`begin reset ${reset}`);
  const after = await call(handlers, "sessions.reset", { key: reset });
  console.log(`ack ${reset} ${after.entry.sessionId}`);
  console.log(`begin delete ${deleted}`);
  await call(handlers, "sessions.delete", { key: deleted });
  console.log(`ack-delete ${deleted}`);
  // Maintenance on a save, the release's way: first a prune by age (every entry but the two
  // just touched is stale), then a cap at the newest entry. What each evicted is read back from
  // the store, not assumed.
  const loadSessionStore = await exported("loadSessionStore");
  const extra = `agent:main:${name}k3`;
  console.log(`begin create ${extra}`);
  const added = await call(handlers, "sessions.create", { key: extra });
  console.log(`ack ${extra} ${added.sessionId}`);
  // The entries not touched are dated to 1970, so the prune does not depend on how fast the
  // run went.
  const maintain = async (op, touched, override) => {
    const keys = Object.keys(loadSessionStore(storePath, { skipCache: true }));
    for (const key of keys) console.log(`begin ${op} ${key}`);
    await updateSessionStore(
      storePath,
      (store) => {
        for (const key of Object.keys(store)) store[key] = { ...store[key], updatedAt: 1 };
        touched.forEach((key, i) => (store[key] = { ...store[key], updatedAt: Date.now() + 1000 * (i + 1) }));
      },
      { maintenanceOverride: { ...rotateEveryWrite, ...override } },
    );
    const left = loadSessionStore(storePath, { skipCache: true });
    for (const key of keys) console.log(key in left ? `ack ${key} ${left[key].sessionId}` : `ack-delete ${key}`);
  };
  await maintain("prune", [extra, kept], { pruneAfterMs: 86_400_000, maxEntries: 1e6 });
  await maintain("cap", [extra, kept], { pruneAfterMs: 1e12, maxEntries: 1 });
}

if (workload === "legacy") {
  const sessions = path.join(dir, "agents", "main", "sessions");
  fs.mkdirSync(sessions, { recursive: true });
  const store = {};
  for (let i = 0; i < 3; i++) {
    const sessionId = `s${i}`;
    const sessionFile = path.join(sessions, `${sessionId}.jsonl`);
    const header = { type: "session", version: 3, id: sessionId, timestamp: "2026-05-01T00:00:00.000Z", cwd: "/" };
    const message = {
      type: "message",
      id: `m${i}`,
      parentId: null,
      timestamp: "2026-05-01T00:00:01.000Z",
      message: { role: "user", content: [{ type: "text", text: `hello-${i}` }], timestamp: 1777593601000 },
    };
    fs.writeFileSync(sessionFile, `${JSON.stringify(header)}\n${JSON.stringify(message)}\n`);
    store[`agent:main:k${i}`] = { sessionId, sessionFile, updatedAt: 1777593600000 + i };
    console.log(`session agent:main:k${i} ${sessionId} hello-${i}`);
  }
  fs.writeFileSync(path.join(sessions, "sessions.json"), JSON.stringify(store, null, 2));
}

if (workload === "migrate") {
  const runDoctorSessionSqlite = await exported("runDoctorSessionSqlite");
  const report = await runDoctorSessionSqlite({ mode: "import", env: process.env });
  const totals = report.totals ?? {};
  console.log(`migrated ${totals.importedEntries} of ${totals.legacyEntries} sessions, ${totals.issues} issue(s)`);
  if (totals.issues) fail(1, JSON.stringify(report.targets?.flatMap((t) => t.issues ?? [])));
}
