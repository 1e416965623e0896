// Installs what the project needs, once, and again only when a lock file changes:
//   node_modules/ from package-lock.json (npm ci), .venv/ from engine/requirements.lock (pip).
// `npm run demo` and `npm test` both start here, so a fresh clone needs nothing run first.
// The engine lock is universal (scripts/lock-engine.mjs): its environment markers select Linux's CUDA
// wheels, Windows' and macOS's own, and pip checks every file against the lock's sha256.
// PyPI's torch for Windows runs on the CPU only: with DANLU_TORCH_INDEX set (PyTorch's CUDA index, e.g.
// https://download.pytorch.org/whl/cu128) torch and torchvision, same versions, come from there instead;
// those two files are not hash-checked (the lock cannot hold an index this project cannot reach).
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { buildWebIfChanged } from "./build-web.mjs";
import { fileURLToPath } from "node:url";

// fileURLToPath, not .pathname: a checkout under "C:\\Users\\张三\\my projects" has a drive letter, spaces and
// non-ASCII letters, which .pathname leaves as "/C:/Users/%E5%BC%A0..."
const root = fileURLToPath(new URL("..", import.meta.url));
const quiet = process.argv.includes("--quiet");

function hashOf(file) {
  return createHash("sha256")
    .update(readFileSync(join(root, file)))
    .digest("hex");
}

const LOCK = "engine/requirements.lock";

/** The version the lock pins for a package (the same on every platform for torch and torchvision). */
function lockedVersion(name) {
  const match = new RegExp(`^${name}==([^ ;\\s]+)`, "m").exec(readFileSync(join(root, LOCK), "utf8"));
  if (!match) throw new Error(`${name} is not in ${LOCK}`);
  return match[1];
}

function run(cmd, args, env = {}) {
  // npm is npm.cmd on Windows, which only a shell can start
  const shell = process.platform === "win32" && cmd === "npm";
  const result = spawnSync(cmd, args, {
    cwd: root,
    stdio: "inherit",
    shell,
    env: { ...process.env, ...env },
  });
  if (result.status !== 0) {
    console.error(`setup: '${cmd} ${args.join(" ")}' failed (exit ${result.status}).`);
    process.exit(result.status ?? 1);
  }
}

/** The lock is checked for Python 3.11 to 3.13 (scripts/lock-engine.mjs); others fail late, in pip. */
function checkPythonVersion(python) {
  const probe = spawnSync(python, ["-c", "import sys; print('%d.%d' % sys.version_info[:2])"], {
    encoding: "utf8",
  });
  const version = probe.status === 0 ? probe.stdout.trim() : null;
  if (version && ["3.11", "3.12", "3.13"].includes(version)) return;
  console.error(
    version
      ? `setup: ${python} is Python ${version}; the engine needs Python 3.11, 3.12 or 3.13.`
      : `setup: could not run '${python}' (Python 3.11 to 3.13 is needed).`,
  );
  console.error(
    "setup: install one (python.org, or `winget install Python.Python.3.12`, or `brew install python@3.12`) " +
      "and set DANLU_BOOTSTRAP_PYTHON to it if it is not the default.",
  );
  process.exit(1);
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
const windows = process.platform === "win32";
const venvPython = join(venv, windows ? "Scripts/python.exe" : "bin/python");
const pyMarker = join(venv, ".danlu-lock-hash");
const torchIndex = process.env.DANLU_TORCH_INDEX ?? "";
// The marker is the lock's hash alone unless a torch index is chosen (so existing venvs stay valid).
const pyHash = torchIndex ? `${hashOf(LOCK)} ${torchIndex}` : hashOf(LOCK);
if (!upToDate(pyMarker, pyHash)) {
  const python = process.env.DANLU_BOOTSTRAP_PYTHON ?? (windows ? "python" : "python3");
  if (!existsSync(venvPython)) {
    checkPythonVersion(python);
    console.log(`setup: creating the engine's virtual environment in .venv (${python})...`);
    run(python, ["-m", "venv", venv]);
  }
  console.log(
    `setup: installing the engine's Python packages from ${LOCK} (torch is large; pip caches it)...`,
  );
  const pip = [venvPython, "-m", "pip", "install", "--disable-pip-version-check", "-q"];
  run(pip[0], [...pip.slice(1), "--require-hashes", "-r", LOCK]);
  if (torchIndex) {
    const torch = ["torch", "torchvision"].map((name) => `${name}==${lockedVersion(name)}`);
    console.log(`setup: replacing ${torch.join(" ")} with the builds from ${torchIndex}...`);
    run(pip[0], [...pip.slice(1), "--force-reinstall", "--no-deps", "--index-url", torchIndex, ...torch]);
  }
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
