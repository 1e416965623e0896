import { readFileSync } from "node:fs";
import { DanluError } from "../errors.ts";

/** One row of a run's logs/{name}/loss.csv (`step,epoch,loss,lr,it_per_s`, optionally `val_loss`). */
export interface LossRow {
  step: number;
  epoch: number;
  loss: number;
  lr: number;
  valLoss: number | null;
}

export interface EpochLoss {
  epoch: number;
  /** Mean training loss over the epoch's steps (noisy per step: diffusion loss depends on the timestep drawn). */
  meanLoss: number;
  /** The last validation loss recorded in the epoch, when the run kept one. */
  valLoss: number | null;
  lastLr: number;
}

/** Parses loss.csv text; `where` names the file in errors. */
export function parseLossCsv(text: string, where: string): LossRow[] {
  const [header = "", ...lines] = text.trim().split("\n");
  const columns = header.split(",").map((c) => c.trim());
  const at = (name: string) => columns.indexOf(name);
  const [step, epoch, loss, lr, val] = [at("step"), at("epoch"), at("loss"), at("lr"), at("val_loss")];
  if (step < 0 || epoch < 0 || loss < 0 || lr < 0) {
    throw new DanluError(`${where} is not a danlu loss history (header '${header}').`, {
      code: "BAD_HISTORY",
    });
  }
  return lines
    .filter((line) => line.trim() !== "")
    .map((line) => {
      const cells = line.split(",");
      const num = (i: number) =>
        i < 0 || cells[i] === undefined || cells[i] === "" ? NaN : Number(cells[i]);
      return {
        step: num(step),
        epoch: num(epoch),
        loss: num(loss),
        lr: num(lr),
        valLoss: val < 0 ? null : num(val),
      };
    })
    .filter((row) => Number.isFinite(row.step) && Number.isFinite(row.loss))
    .map((row) => ({
      ...row,
      valLoss: row.valLoss !== null && Number.isFinite(row.valLoss) ? row.valLoss : null,
    }));
}

export function readLossCsv(path: string): LossRow[] {
  return parseLossCsv(readFileSync(path, "utf8"), path);
}

/** Per-epoch summary of the loss rows, ascending by epoch. */
export function lossByEpoch(rows: readonly LossRow[]): EpochLoss[] {
  const groups = new Map<number, LossRow[]>();
  for (const row of rows) groups.set(row.epoch, [...(groups.get(row.epoch) ?? []), row]);
  return [...groups.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([epoch, group]) => {
      const withVal = group.filter((row) => row.valLoss !== null);
      return {
        epoch,
        meanLoss: group.reduce((sum, row) => sum + row.loss, 0) / group.length,
        valLoss: withVal.at(-1)?.valLoss ?? null,
        lastLr: group.at(-1)?.lr ?? 0,
      };
    });
}

/** One row of logs/{name}/val_loss.csv (`step,epoch,val_loss,images`; step 0 is the untrained baseline). */
export interface ValRow {
  step: number;
  epoch: number;
  valLoss: number;
}

/** Parses val_loss.csv text, as the training run writes it (src/training/validation-history.ts). */
export function parseValLossCsv(text: string, where: string): ValRow[] {
  const [header = "", ...lines] = text.trim().split("\n");
  const columns = header.split(",").map((c) => c.trim());
  const [step, epoch, val] = [columns.indexOf("step"), columns.indexOf("epoch"), columns.indexOf("val_loss")];
  if (step < 0 || epoch < 0 || val < 0) {
    throw new DanluError(`${where} is not a danlu validation history (header '${header}').`, {
      code: "BAD_HISTORY",
    });
  }
  return lines
    .map((line) => line.split(",").map(Number))
    .map((cells) => ({ step: cells[step] ?? NaN, epoch: cells[epoch] ?? NaN, valLoss: cells[val] ?? NaN }))
    .filter((row) => Number.isFinite(row.step) && Number.isFinite(row.valLoss));
}

/** The per-epoch summary with each epoch's last validation loss from val_loss.csv filled in. */
export function withValidation(epochs: readonly EpochLoss[], val: readonly ValRow[]): EpochLoss[] {
  return epochs.map((e) => ({
    ...e,
    valLoss: val.filter((row) => row.epoch === e.epoch).at(-1)?.valLoss ?? e.valLoss,
  }));
}

/** A moving average over `window` steps (the raw per-step loss is too noisy to read). */
export function smooth(values: readonly number[], window: number): number[] {
  return values.map((_, i) => {
    const from = Math.max(0, i - window + 1);
    const part = values.slice(from, i + 1);
    return part.reduce((a, b) => a + b, 0) / part.length;
  });
}
