// Installs what the project needs, once, and again only when a lock file changes:
//   node_modules/ from package-lock.json (npm ci), .venv/ from engine/requirements.lock (pip).
// `npm run demo` and `npm test` both start here, so a fresh clone needs nothing run first.
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { buildWebIfChanged } from "./build-web.mjs";

const root = new URL("..", import.meta.url).pathname;
const quiet = process.argv.includes("--quiet");

function hashOf(file) {
  return createHash("sha256")
    .update(readFileSync(join(root, file)))
    .digest("hex");
}

function run(cmd, args, env = {}) {
  const result = spawnSync(cmd, args, { cwd: root, stdio: "inherit", env: { ...process.env, ...env } });
  if (result.status !== 0) {
    console.error(`setup: '${cmd} ${args.join(" ")}' failed (exit ${result.status}).`);
    process.exit(result.status ?? 1);
  }
}

function upToDate(marker, hash) {
  return existsSync(marker) && readFileSync(marker, "utf8").trim() === hash;
}

const npmMarker = join(root, "node_modules", ".danlu-lock-hash");
const npmHash = hashOf("package-lock.json");
if (!upToDate(npmMarker, npmHash)) {
  console.log("setup: installing Node packages (npm ci)...");
  run("npm", ["ci", "--no-audit", "--no-fund"], { ONNXRUNTIME_NODE_INSTALL: "skip" });
  writeFileSync(npmMarker, npmHash);
}

const venv = join(root, ".venv");
const pyMarker = join(venv, ".danlu-lock-hash");
const pyHash = hashOf("engine/requirements.lock");
if (!upToDate(pyMarker, pyHash)) {
  const python = process.env.DANLU_BOOTSTRAP_PYTHON ?? "python3";
  if (!existsSync(join(venv, "bin", "python"))) {
    console.log(`setup: creating the engine's virtual environment in .venv (${python})...`);
    run(python, ["-m", "venv", venv]);
  }
  console.log(
    "setup: installing the engine's Python packages from engine/requirements.lock (torch is large; pip caches it)...",
  );
  run(join(venv, "bin", "python"), [
    "-m",
    "pip",
    "install",
    "--disable-pip-version-check",
    "-q",
    "-r",
    "engine/requirements.lock",
  ]);
  writeFileSync(pyMarker, pyHash);
} else if (!quiet) {
  console.log("setup: Node packages and engine environment are up to date.");
}

// The web UI (web/, Vite) into web/dist, which `danlu serve` serves at /; again only when web/ changes.
try {
  buildWebIfChanged();
} catch (error) {
  console.error(`setup: ${error.message}.`);
  process.exit(1);
}
