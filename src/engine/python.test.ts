import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DanluError } from "../errors.ts";
import { engineLauncher, findEnginePython } from "./python.ts";

function fakeRoot(withVenv: boolean): string {
  const root = mkdtempSync(join(tmpdir(), "danlu-root-"));
  if (withVenv) {
    mkdirSync(join(root, ".venv", "bin"), { recursive: true });
    writeFileSync(join(root, ".venv", "bin", "python"), "");
  }
  return root;
}

describe("findEnginePython", () => {
  it("uses the checkout's .venv", () => {
    const root = fakeRoot(true);
    expect(findEnginePython({}, root)).toBe(join(root, ".venv", "bin", "python"));
  });

  it("uses .venv\\Scripts\\python.exe on Windows", () => {
    const root = fakeRoot(false);
    mkdirSync(join(root, ".venv", "Scripts"), { recursive: true });
    writeFileSync(join(root, ".venv", "Scripts", "python.exe"), "");
    expect(findEnginePython({}, root, "win32")).toBe(join(root, ".venv", "Scripts", "python.exe"));
    expect(() => findEnginePython({}, root, "linux")).toThrow(/missing/);
  });

  it("says to run npm run setup when the venv is missing", () => {
    const error = (() => {
      try {
        findEnginePython({}, fakeRoot(false));
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(DanluError);
    expect((error as DanluError).hint).toContain("npm run setup");
  });

  it("prefers DANLU_PYTHON, and rejects one that does not exist", () => {
    expect(findEnginePython({ DANLU_PYTHON: process.execPath }, fakeRoot(false))).toBe(process.execPath);
    expect(() => findEnginePython({ DANLU_PYTHON: "/nonexistent/python3" })).toThrow(/DANLU_PYTHON/);
  });
});

describe("engineLauncher", () => {
  it("runs -m danlu_engine with <root>/engine first on PYTHONPATH", () => {
    const root = fakeRoot(true);
    const launcher = engineLauncher({ PYTHONPATH: "/other" }, root);
    expect(launcher.args).toEqual(["-m", "danlu_engine"]);
    expect(launcher.env.PYTHONPATH).toBe(`${join(root, "engine")}:/other`);
  });
});
