import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { distributedEngineLauncher, engineLauncher } from "./python.ts";

/** A checkout with a fake .venv python (the launcher only checks that it exists). */
function fakeRoot(): string {
  const root = mkdtempSync(join(tmpdir(), "danlu-launch-"));
  mkdirSync(join(root, ".venv", "bin"), { recursive: true });
  writeFileSync(join(root, ".venv", "bin", "python"), "");
  return root;
}

describe("distributedEngineLauncher", () => {
  it("runs danlu_engine.launch with the process count (and GPU ids), the default launcher's env", () => {
    const root = fakeRoot();
    const plain = engineLauncher({}, root);
    const two = distributedEngineLauncher(2, null, {}, root);
    expect(two.args).toEqual(["-m", "danlu_engine.launch", "2"]);
    expect(two.executable).toBe(plain.executable);
    expect(two.env).toEqual(plain.env);
    expect(distributedEngineLauncher(2, "0,3", {}, root).args).toEqual([
      "-m",
      "danlu_engine.launch",
      "2",
      "0,3",
    ]);
    expect(plain.args).toEqual(["-m", "danlu_engine"]); // one process: the default, untouched
  });

  it("refuses gpu_ids that are not GPU numbers", () => {
    expect(() => distributedEngineLauncher(2, "0;rm -rf", {}, fakeRoot())).toThrow(/gpu_ids '0;rm -rf'/);
  });
});
