// The real `danlu doctor` on this machine: the engine's checks run (torch, CUDA or not, bf16, an 8-bit
// optimizer step) and the findings say where training runs.
import { describe, expect, it } from "vitest";
import type { Finding } from "../src/doctor/advice.ts";
import type { MachineReport } from "../src/doctor/collect.ts";
import { runCli } from "./cli.ts";

describe("danlu doctor", () => {
  it("checks this machine and says where training runs", async () => {
    const result = await runCli(["doctor", "--json", "--dir", "模型 文件/输出"]);
    const { findings, report } = JSON.parse(result.stdout) as { findings: Finding[]; report: MachineReport };
    const problems = findings.filter((f) => f.level === "problem");
    expect(result.code).toBe(problems.length ? 1 : 0);
    expect(report.engineError).toBeNull();
    const engine = report.engine!;
    expect(engine.torch.error).toBeNull();
    expect(findings.find((f) => f.check === "torch")?.message).toContain(`torch ${engine.torch.version}`);
    expect(engine.bitsandbytes).toMatchObject({ usable: true });
    if (engine.cuda?.usable) {
      expect(engine.training_device).toBe("cuda:0");
      expect(findings).toContainEqual(expect.objectContaining({ level: "ok", check: "cuda" }));
    } else {
      expect(engine.training_device).toBe("cpu");
      expect(findings).toContainEqual(
        expect.objectContaining({ check: "gpu", message: expect.stringContaining("run on the CPU, slowly") }),
      );
    }
    // a folder that does not exist yet is measured at its nearest existing parent
    expect(report.disks.map((d) => d.path)).toContainEqual(expect.stringMatching(/模型 文件\/输出$/));
    expect(report.disks.every((d) => d.free_mb > 0)).toBe(true);
  });

  it("prints one line per finding and the count of problems and warnings", async () => {
    const result = await runCli(["doctor"]);
    expect(result.stdout).toMatch(/^ok {7}python {7}Python 3\.\d+/m);
    expect(result.stdout).toMatch(/\d+ problems?, \d+ warnings?\n$/);
  });
});
