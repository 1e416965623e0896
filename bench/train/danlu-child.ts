/**
 * One danlu training run for the benchmark, in its own process (so "time from process start" means what
 * it means for `danlu train`): resolve the config, prepareRun, runTraining, and write every engine event
 * as one JSON line on stdout. Notes and the plan go to stderr.
 *
 *   npx tsx bench/train/danlu-child.ts CONFIG.json   (CONFIG: danlu config keys, as in a run TOML)
 */
import { readFileSync } from "node:fs";
import { resolveTrainConfig, type TrainConfigLayer } from "../../src/config/index.ts";
import { prepareRun, runTraining } from "../../src/training/run.ts";

async function main(configPath: string): Promise<void> {
  const keys = JSON.parse(readFileSync(configPath, "utf8")) as TrainConfigLayer;
  const config = resolveTrainConfig([keys]);
  const prepared = await prepareRun(config);
  process.stderr.write(`${prepared.report}\n`);
  const result = await runTraining(config, prepared, {
    onEvent: (event) => process.stdout.write(`${JSON.stringify(event)}\n`),
    onNote: (text) => process.stderr.write(`${text}\n`),
  });
  if (result.status !== "done") throw new Error(`training ended ${result.status}`);
}

const configPath = process.argv[2];
if (!configPath) {
  process.stderr.write("usage: npx tsx bench/train/danlu-child.ts CONFIG.json\n");
  process.exit(2);
}
main(configPath).catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
