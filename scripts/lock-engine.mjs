// Writes engine/requirements.lock from engine/requirements.in: one universal lock (uv pip compile
// --universal) whose environment markers pick the right wheels on Linux, Windows and macOS, every file
// with its sha256 (setup.mjs installs with pip --require-hashes). Then checks that the lock installs from
// wheels on each platform users have: Linux x86_64 and Windows x86_64 (NVIDIA), macOS arm64 (Apple
// silicon), each with Python 3.11 to 3.13. Needs the network (PyPI); `npm test` does not run it.
//
//   node scripts/lock-engine.mjs                         re-lock, keeping every version the lock has
//   node scripts/lock-engine.mjs --upgrade-package X     move X (and what it needs) to its newest version
//
// uv is taken from $DANLU_UV, else `uv` on PATH, else installed once into a venv in the temp folder.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const LOCK = "engine/requirements.lock";
const UV_VERSION = "0.13.9";
// Packages PyPI has only as a source archive; pure Python, so building them needs no compiler.
const SDIST_ONLY = new Set(["dadaptation"]);
// macOS 14 is the oldest that PyTorch's arm64 wheels (and MPS bf16) support.
const TARGETS = [
  { name: "Linux x86_64", platform: "x86_64-unknown-linux-gnu", needs: ["torch", "triton", "bitsandbytes"] },
  {
    name: "Windows x86_64",
    platform: "x86_64-pc-windows-msvc",
    needs: ["torch", "bitsandbytes", "colorama"],
  },
  { name: "macOS arm64", platform: "aarch64-apple-darwin", needs: ["torch", "bitsandbytes"] },
];
const PYTHONS = ["3.11", "3.12", "3.13"];

function fail(message) {
  console.error(`lock-engine: ${message}`);
  process.exit(1);
}

function works(cmd, args) {
  return spawnSync(cmd, args, { stdio: "ignore" }).status === 0;
}

function findUv() {
  if (process.env.DANLU_UV) return process.env.DANLU_UV;
  if (works("uv", ["--version"])) return "uv";
  const venv = join(tmpdir(), `danlu-uv-${UV_VERSION}`);
  const uv = join(venv, process.platform === "win32" ? "Scripts/uv.exe" : "bin/uv");
  if (!existsSync(uv)) {
    console.log(`lock-engine: installing uv ${UV_VERSION} into ${venv}...`);
    const python =
      process.env.DANLU_BOOTSTRAP_PYTHON ?? (process.platform === "win32" ? "python" : "python3");
    const pip = join(venv, process.platform === "win32" ? "Scripts/python.exe" : "bin/python");
    if (!works(python, ["-m", "venv", venv])) fail(`'${python} -m venv ${venv}' failed`);
    if (!works(pip, ["-m", "pip", "install", "-q", `uv==${UV_VERSION}`]))
      fail("could not install uv from PyPI");
  }
  return uv;
}

function uvCompile(uv, args, env = {}) {
  const result = spawnSync(uv, ["pip", "compile", ...args], {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, ...env },
  });
  return { ok: result.status === 0, stdout: result.stdout ?? "", stderr: result.stderr ?? "" };
}

const pinned = (text) => [...text.matchAll(/^([a-z0-9][a-z0-9._-]*)==/gm)].map((m) => m[1]);

const uv = findUv();
console.log(`lock-engine: resolving ${LOCK} for every platform...`);
const lock = uvCompile(uv, [
  "engine/requirements.in",
  "--universal",
  "--python-version",
  "3.11",
  "--generate-hashes",
  "--custom-compile-command",
  "node scripts/lock-engine.mjs",
  "--quiet",
  "-o",
  LOCK,
  ...process.argv.slice(2),
]);
if (!lock.ok) fail(`uv could not resolve engine/requirements.in:\n${lock.stderr}`);

const binaryOnly = pinned(readFileSync(join(root, LOCK), "utf8")).filter((name) => !SDIST_ONLY.has(name));
const sdists = [...SDIST_ONLY].join(", ");
let broken = 0;
for (const target of TARGETS) {
  for (const python of PYTHONS) {
    const check = uvCompile(
      uv,
      [LOCK, "--python-platform", target.platform, "--python-version", python].concat([
        "--only-binary",
        binaryOnly.join(","),
        "--no-header",
        "--no-annotate",
        "--quiet",
      ]),
      { MACOSX_DEPLOYMENT_TARGET: "14.0" },
    );
    const names = new Set(pinned(check.stdout));
    const missing = target.needs.filter((name) => !names.has(name));
    if (!check.ok || missing.length) {
      broken += 1;
      console.error(`  ${target.name}, Python ${python}: FAILED ${missing.join(" ")}\n${check.stderr}`);
    } else {
      console.log(`  ${target.name}, Python ${python}: ${names.size} packages, wheels for all but ${sdists}`);
    }
  }
}
if (broken)
  fail(`${LOCK} does not install on ${broken} platform/Python pairs (above); it was written anyway.`);
console.log(`lock-engine: ${LOCK} written and checked.`);
