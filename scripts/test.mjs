// The whole test command: type-check, lint, format check, the TypeScript tests (vitest), the engine's lint
// and type check (ruff and mypy, set in engine/pyproject.toml) and the engine's tests (pytest). Every stage
// runs; the runners print their own summaries; the last lines add them up and name each failed test.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const bin = (name) => join(root, "node_modules", ".bin", name);
const python = join(root, ".venv", "bin", "python");
const stages = [
  ["type-check", bin("tsc"), ["--noEmit", "-p", "."]],
  ["type-check web", bin("tsc"), ["--noEmit", "-p", "web"]],
  ["lint", bin("eslint"), ["."]],
  ["format", bin("prettier"), ["--check", "--log-level", "warn", "."]],
  [
    "vitest",
    bin("vitest"),
    ["run", "--reporter=default", "--reporter=json", "--outputFile.json=.danlu/vitest.json"],
  ],
  ["python lint (ruff)", python, ["-m", "ruff", "check", "--no-cache", "engine"]],
  // mypy reads its settings and file list from engine/pyproject.toml, so it runs in engine/
  ["python types (mypy)", python, ["-m", "mypy"], join(root, "engine")],
  ["pytest", python, ["-m", "pytest", "engine/tests", "-q", "-p", "no:cacheprovider"]],
];

const failed = [];
let passed = 0;
let failedTests = 0;
// The names of the failed tests, repeated at the very end: a CI log that keeps only its tail still says which.
const failedNames = [];
for (const [name, cmd, args, cwd = root] of stages) {
  console.log(`\n=== ${name} ===`);
  const result = spawnSync(cmd, args, {
    cwd,
    stdio: ["ignore", "pipe", "inherit"],
    encoding: "utf8",
    // One torch thread per engine: tests run engines side by side on few cores, and oversubscribed
    // threads made a tiny model 60x slower on a 2-core machine.
    env: { ...process.env, FORCE_COLOR: "0", OMP_NUM_THREADS: "1" },
  });
  process.stdout.write(result.stdout ?? "");
  if (name === "pytest") {
    passed += Number(/(\d+) passed/.exec(result.stdout ?? "")?.[1] ?? 0);
    for (const match of (result.stdout ?? "").matchAll(/^(?:FAILED|ERROR) (\S+)/gm)) {
      failedNames.push(`pytest: ${match[1]}`);
    }
    failedTests +=
      Number(/(\d+) failed/.exec(result.stdout ?? "")?.[1] ?? 0) +
      Number(/(\d+) error/.exec(result.stdout ?? "")?.[1] ?? 0);
  }
  if (name === "vitest") {
    try {
      const report = JSON.parse(readFileSync(join(root, ".danlu", "vitest.json"), "utf8"));
      passed += report.numPassedTests;
      failedTests += report.numFailedTests;
      for (const file of report.testResults ?? []) {
        const where = file.name.startsWith(root) ? file.name.slice(root.length) : file.name;
        const failures = (file.assertionResults ?? []).filter((test) => test.status === "failed");
        for (const test of failures) {
          const why = (test.failureMessages?.[0] ?? "").split("\n")[0].slice(0, 300);
          failedNames.push(`vitest: ${where} > ${test.fullName}: ${why}`);
        }
        if (file.status === "failed" && failures.length === 0) {
          failedNames.push(`vitest: ${where} (${(file.message ?? "failed").split("\n")[0]})`);
        }
      }
    } catch {
      failedTests += 1;
    }
  }
  if (result.status !== 0) failed.push(name);
}

for (const name of failedNames) console.log(`failed: ${name}`);
console.log(`\nstages failed: ${failed.length ? failed.join(", ") : "none"}`);
console.log(`${passed} passed, ${failedTests} failed`);
process.exit(failed.length ? 1 : 0);
