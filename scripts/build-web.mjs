// The web UI (web/, Vite) into web/dist, which `danlu serve` serves at /; again only when a file under
// web/ changed since the last build (web/dist/.danlu-source-hash). Run by setup.mjs and the browser tests;
// `node scripts/build-web.mjs` runs it alone.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const web = join(root, "web");
const marker = join(web, "dist", ".danlu-source-hash");

/** One hash over every file under `dir` (sorted paths and contents), skipping the named folders. */
export function hashOfTree(dir, skip) {
  const hash = createHash("sha256");
  const walk = (current) => {
    for (const entry of readdirSync(current, { withFileTypes: true }).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      if (skip.includes(entry.name)) continue;
      const path = join(current, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) hash.update(path.slice(dir.length)).update(readFileSync(path));
    }
  };
  walk(dir);
  return hash.digest("hex");
}

/** Builds web/dist unless it was built from exactly these sources; throws when the build fails. */
export function buildWebIfChanged({ log = console.log } = {}) {
  const hash = hashOfTree(web, ["dist", "node_modules"]);
  if (existsSync(marker) && readFileSync(marker, "utf8").trim() === hash) return false;
  // test files run side by side and each builds first: one builds, the others wait and find it built
  const release = lock();
  try {
    if (existsSync(marker) && readFileSync(marker, "utf8").trim() === hash) return false;
    return build(hash, log);
  } finally {
    release();
  }
}

/** An exclusive lock (a folder made atomically); one older than LOCK_STALE_MS was left by a dead build. */
function lock() {
  const dir = join(root, ".danlu", "web-build.lock");
  mkdirSync(dirname(dir), { recursive: true });
  for (;;) {
    try {
      mkdirSync(dir);
      return () => rmSync(dir, { recursive: true, force: true });
    } catch (error) {
      if (error.code !== "EEXIST") throw error;
      const age = Date.now() - (statSync(dir, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > LOCK_STALE_MS) rmSync(dir, { recursive: true, force: true });
      else Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }
}

const LOCK_STALE_MS = 120_000;

function build(hash, log) {
  log("setup: building the web UI (vite build web)...");
  // node + vite's own entry file, not node_modules/.bin/vite: that is a .cmd file on Windows
  const result = spawnSync(
    process.execPath,
    [join(root, "node_modules", "vite", "bin", "vite.js"), "build", "web", "--logLevel", "warn"],
    {
      cwd: root,
      stdio: "inherit",
      // a production build even when a test runner calls it (vitest sets NODE_ENV=test, and Vite then
      // keeps JSX's development output: source paths and line numbers on every element)
      env: { ...process.env, NODE_ENV: "production" },
    },
  );
  if (result.status !== 0) throw new Error(`vite build web failed (exit ${result.status})`);
  writeFileSync(marker, hash);
  return true;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    buildWebIfChanged();
  } catch (error) {
    console.error(`setup: ${error.message}`);
    process.exit(1);
  }
}
