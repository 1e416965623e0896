import { closeSync, existsSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from "node:fs";
import { DanluError } from "../errors.ts";
import type { ValidationEvent } from "../engine/protocol.ts";

const HEADER = "step,epoch,val_loss,images";

/**
 * `val_loss.csv` beside loss.csv: one row per validation (step 0 is the untrained baseline). Rows are
 * written straight to the file as they come, like loss.csv; a resumed run keeps the rows up to its state's
 * step and drops the rest, which it is about to measure again.
 */
export class ValidationHistory {
  private fd: number | null;

  constructor(
    readonly path: string,
    options: { resumeAfterStep?: number } = {},
  ) {
    const fresh = options.resumeAfterStep === undefined || !existsSync(path);
    const text = fresh ? `${HEADER}\n` : keptRows(path, options.resumeAfterStep ?? 0);
    const temp = `${path}.${process.pid}.tmp`;
    writeFileSync(temp, text, "utf8");
    renameSync(temp, path);
    this.fd = openSync(path, "a");
  }

  append(event: ValidationEvent): void {
    if (this.fd === null) throw new Error(`ValidationHistory: ${this.path} is closed`);
    writeSync(this.fd, `${[event.step, event.epoch, event.loss, event.images].map(String).join(",")}\n`);
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

function keptRows(path: string, lastStep: number): string {
  const [header, ...rows] = readFileSync(path, "utf8").split("\n");
  if (header !== HEADER) {
    throw new DanluError(`${path} is not a danlu validation history (its first line is not "${HEADER}").`, {
      code: "BAD_HISTORY",
      hint: "Move the file away, or resume into the output folder of the run being resumed.",
    });
  }
  const kept = rows.filter((row) => row !== "" && Number(row.split(",")[0]) <= lastStep);
  return [HEADER, ...kept, ""].join("\n");
}
