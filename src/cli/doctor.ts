import type { Command } from "commander";
import { diagnose, formatFindings } from "../doctor/advice.ts";
import { collectMachineReport } from "../doctor/collect.ts";
import { modelsDir } from "../models-store/store.ts";

/** `danlu doctor`: can this machine train, and if not, what to do. Exit code 1 when a check found a problem. */
export function registerDoctor(program: Command): void {
  program
    .command("doctor")
    .description(
      "check Python, torch, GPU and driver, CUDA/MPS, bf16, 8-bit optimizers, free memory and disk; each problem with what to do",
    )
    .option(
      "--dir <folder...>",
      "folders whose free space to check, besides the models folder and the current one (string, repeatable)",
    )
    .option("--json", "print the findings and the raw report as JSON", false)
    .action(async (flags: { dir?: string[]; json: boolean }) => {
      const machine = await collectMachineReport({
        folders: [modelsDir(), process.cwd(), ...(flags.dir ?? [])],
      });
      const findings = diagnose(machine);
      process.stdout.write(
        (flags.json ? JSON.stringify({ findings, report: machine }, null, 2) : formatFindings(findings)) +
          "\n",
      );
      if (findings.some((f) => f.level === "problem")) process.exitCode = 1;
    });
}
