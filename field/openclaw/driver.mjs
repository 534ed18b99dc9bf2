// Drives one OpenClaw release's own session store: for each of N sessions, writes its
// transcript, registers it through the release's updateSessionStore with the registry's
// rotation threshold forced low (maintenance enforced, rotateBytes 1), and prints
// `ack <key> <sessionId>` (what `crashsim check-dir --acknowledged` reads).
// The function is found by what the release's dist/ chunks export, not by their hashed names.
//
//   node driver.mjs <openclaw package dir> <sessions dir> <sessions>
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const [pkg, dir, count] = process.argv.slice(2);
if (!pkg || !dir || !count) {
  console.error("usage: node driver.mjs <openclaw package dir> <sessions dir> <sessions>");
  process.exit(2);
}

async function exported(name) {
  const dist = path.join(pkg, "dist");
  for (const file of fs.readdirSync(dist).filter((f) => f.endsWith(".js")).sort()) {
    const source = fs.readFileSync(path.join(dist, file), "utf8");
    if (!source.includes(`function ${name}(`)) continue;
    const alias = source.match(new RegExp(`export \\{[^}]*\\b${name} as (\\w+)`));
    if (!alias) continue;
    const module = await import(pathToFileURL(path.join(dist, file)).href);
    if (typeof module[alias[1]] === "function") return module[alias[1]];
  }
  console.error(`no chunk of ${dist} exports ${name}: this release lacks it`);
  process.exit(3);
}

const updateSessionStore = await exported("updateSessionStore");
const storePath = path.join(dir, "sessions.json");
const maintenanceOverride = { mode: "enforce", rotateBytes: 1, pruneAfterMs: 1e12, maxEntries: 1e6 };
for (let i = 0; i < Number(count); i++) {
  const sessionId = `s${i}`;
  const key = `agent:main:k${i}`;
  const sessionFile = path.join(dir, `${sessionId}.jsonl`);
  fs.writeFileSync(sessionFile, JSON.stringify({ type: "session", id: sessionId }) + "\n");
  await updateSessionStore(
    storePath,
    (store) => {
      store[key] = { sessionId, sessionFile, updatedAt: Date.now() };
    },
    { maintenanceOverride },
  );
  console.log(`ack ${key} ${sessionId}`);
}
