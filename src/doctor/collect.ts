import { existsSync, statfsSync } from "node:fs";
import { freemem, totalmem } from "node:os";
import { dirname, resolve } from "node:path";
import { DanluError } from "../errors.ts";
import { runEngineToDone } from "../engine/run-to-done.ts";
import type { EngineLauncher } from "../engine/python.ts";
import { doctorReport, type DoctorReport } from "../engine/spec-doctor.ts";

export interface DiskSpace {
  path: string; // the folder asked about (it may not exist yet: the space is its nearest existing parent's)
  free_mb: number;
  total_mb: number;
}

/** Everything `danlu doctor` found: the engine's own checks, or why the engine could not run them. */
export interface MachineReport {
  platform: NodeJS.Platform;
  engine: DoctorReport | null;
  engineError: { message: string; hint: string | null } | null;
  disks: DiskSpace[];
  /** System memory in MiB: the engine's (psutil, "available") when it ran, else Node's view. */
  memory: { total_mb: number; available_mb: number };
}

export interface CollectOptions {
  /** Folders whose free space matters: models, training output, the work folder. */
  folders: string[];
  /** How to start the engine (tests use fake ones). @defaultValue the checkout's .venv */
  launcher?: EngineLauncher;
}

const MB = 2 ** 20;

export function diskSpace(folder: string): DiskSpace {
  let existing = resolve(folder);
  while (!existsSync(existing) && dirname(existing) !== existing) existing = dirname(existing);
  const stats = statfsSync(existing);
  return {
    path: folder,
    free_mb: (stats.bavail * stats.bsize) / MB,
    total_mb: (stats.blocks * stats.bsize) / MB,
  };
}

async function engineReport(launcher: EngineLauncher | undefined): Promise<DoctorReport> {
  const done = await runEngineToDone("doctor", { version: 1 }, launcher ? { launcher } : {});
  const parsed = doctorReport.safeParse(done.data);
  if (!parsed.success) {
    throw new DanluError(`The engine's doctor report has an unexpected shape: ${parsed.error.message}`, {
      code: "BAD_ENGINE_OUTPUT",
      hint: "This is a bug in danlu: please report it.",
    });
  }
  return parsed.data;
}

/** Runs the engine's checks and measures disk and memory; never throws for a broken engine (that is a finding). */
export async function collectMachineReport(options: CollectOptions): Promise<MachineReport> {
  let engine: DoctorReport | null = null;
  let engineError: MachineReport["engineError"] = null;
  try {
    engine = await engineReport(options.launcher);
  } catch (error) {
    engineError =
      error instanceof DanluError
        ? { message: error.message, hint: error.hint ?? null }
        : { message: error instanceof Error ? error.message : String(error), hint: null };
  }
  const unique = [...new Set(options.folders.map((f) => resolve(f)))];
  return {
    platform: process.platform,
    engine,
    engineError,
    disks: unique.map(diskSpace),
    memory: engine?.memory ?? { total_mb: totalmem() / MB, available_mb: freemem() / MB },
  };
}
