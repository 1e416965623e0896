import { InvalidArgumentError } from "commander";
import cliProgress from "cli-progress";
import { parseBackground, type RgbBackground } from "../dataset/images.ts";

/** Option parsers and the progress bar shared by the `danlu data` subcommands. */

export function positiveInt(text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0)
    throw new InvalidArgumentError("expected a positive whole number");
  return value;
}

export function positiveNumber(text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new InvalidArgumentError("expected a positive number");
  return value;
}

export const WHITE: RgbBackground = { r: 255, g: 255, b: 255 };

export function parseColour(text: string): RgbBackground {
  const colour = parseBackground(text);
  if (!colour) throw new InvalidArgumentError("expected white, black, gray or #rrggbb");
  return colour;
}

/** A progress bar on stderr when it is a terminal; silent otherwise (logs, pipes, CI). */
export function startProgress(label: string): {
  update: (done: number, total: number) => void;
  stop: () => void;
} {
  if (!process.stderr.isTTY) return { update: () => {}, stop: () => {} };
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `${label} [{bar}] {value}/{total} images | {eta_formatted} left`,
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update: (done, total) => {
      if (!started) bar.start(total, 0);
      started = true;
      bar.update(done);
    },
    stop: () => {
      if (started) bar.stop();
    },
  };
}
