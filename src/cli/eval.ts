import { type Command, InvalidArgumentError, Option } from "commander";
import { EVAL_DEFAULTS, runEval, type EvalOptions } from "../evaluate/index.ts";
import { engineOptions, ImageProgress } from "./grid.ts";

function count(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1 || parsed > 64)
    throw new InvalidArgumentError("expected 1 to 64");
  return parsed;
}

type EvalFlags = Omit<EvalOptions, "runDir" | "onEvent" | "onPlan" | "onNote"> & { json?: boolean };

export function registerEval(program: Command): void {
  const command = program
    .command("eval")
    .description(
      "measure every saved epoch of a run (face identity vs the training faces, drift on prompts without the trigger, loss) and write report.md + report.html recommending an epoch",
    )
    .argument("<output-dir>", "a `danlu train` output folder")
    .option("--out <dir>", "where the report and images go (default: {run}/evals/eval-NNN)")
    .option("--seeds <n>", "images per prompt for the identity and drift scores", count, EVAL_DEFAULTS.seeds)
    .addOption(
      new Option(
        "--face <mode>",
        "measure face identity: auto (when most training images show a face), on, off",
      )
        .choices(["auto", "on", "off"])
        .default(EVAL_DEFAULTS.face),
    )
    .option("--json", "print the findings as JSON");
  engineOptions(command).action(async (runDir: string, flags: EvalFlags) => {
    const progress = new ImageProgress(flags.json);
    const result = await runEval({
      ...flags,
      runDir,
      onPlan: (images) => (progress.total = images),
      onEvent: (event) => progress.event(event),
    });
    const { findings, report } = result;
    if (flags.json) {
      const examples = Object.fromEntries(findings.examples);
      process.stdout.write(JSON.stringify({ ...findings, examples, report }, null, 2) + "\n");
      return;
    }
    const rec = findings.recommendation;
    process.stdout.write(
      `recommended: ${rec.epoch === null ? "none" : `epoch ${rec.epoch}`}\n${rec.reason}\n`,
    );
    for (const caveat of rec.caveats) process.stdout.write(`  ! ${caveat}\n`);
    process.stdout.write(`report: ${report.html}\n        ${report.markdown}\n`);
  });
}
