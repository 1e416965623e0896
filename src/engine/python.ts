import { existsSync } from "node:fs";
import { delimiter, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { DanluError } from "../errors.ts";

/** How to start the engine: `executable ...args <command> <spec.json>` with these extra variables. */
export interface EngineLauncher {
  executable: string;
  args: string[];
  env: Record<string, string>;
}

/** The checkout this file lives in (src/engine/ -> two levels up). */
export const REPO_ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));

/**
 * The project's Python: `DANLU_PYTHON` when set (a path to any interpreter that has the engine's
 * packages), else the checkout's .venv (`.venv/bin/python`; `.venv\\Scripts\\python.exe` on Windows), which
 * `npm run setup` creates.
 */
export function findEnginePython(
  env: NodeJS.ProcessEnv = process.env,
  root: string = REPO_ROOT,
  platform: NodeJS.Platform = process.platform,
): string {
  const override = env.DANLU_PYTHON;
  if (override) {
    if (!existsSync(override)) {
      throw new DanluError(`DANLU_PYTHON points at ${override}, which does not exist.`, {
        code: "ENGINE_NOT_FOUND",
        hint: "Unset DANLU_PYTHON to use the project's .venv, or point it at a Python with the engine's packages.",
      });
    }
    return override;
  }
  const venvPython = venvPythonPath(root, platform);
  if (!existsSync(venvPython)) {
    throw new DanluError(`The engine's Python environment is missing (${venvPython} not found).`, {
      code: "ENGINE_NOT_FOUND",
      hint: "Run `npm run setup` in the danlu checkout: it creates .venv and installs torch, diffusers and the rest from engine/requirements.lock.",
    });
  }
  return venvPython;
}

/** Where `python -m venv .venv` puts the interpreter. */
export function venvPythonPath(
  root: string = REPO_ROOT,
  platform: NodeJS.Platform = process.platform,
): string {
  return platform === "win32"
    ? join(root, ".venv", "Scripts", "python.exe")
    : join(root, ".venv", "bin", "python");
}

/** The default launcher: `python -m danlu_engine`, with `<repo>/engine` first on PYTHONPATH. */
export function engineLauncher(
  env: NodeJS.ProcessEnv = process.env,
  root: string = REPO_ROOT,
): EngineLauncher {
  const enginePath = join(root, "engine");
  const pythonPath = env.PYTHONPATH ? `${enginePath}${delimiter}${env.PYTHONPATH}` : enginePath;
  return {
    executable: findEnginePython(env, root),
    args: ["-m", "danlu_engine"],
    env: {
      PYTHONPATH: pythonPath,
      // Events must arrive as they happen; stdout is flushed per event already, stderr too with this.
      PYTHONUNBUFFERED: "1",
      // Event lines are UTF-8 JSON (captions and paths may hold any character) whatever the locale says.
      PYTHONIOENCODING: "utf-8",
      // OpenMP threads that spin while they wait made CPU runs 20-300x slower on a busy 2-core machine
      // (BENCHMARKS.md, "Training"); sleeping threads cost little when the machine is idle.
      OMP_WAIT_POLICY: env.OMP_WAIT_POLICY ?? "PASSIVE",
    },
  };
}

/**
 * One run on several processes (data parallelism, one per GPU): `python -m danlu_engine.launch N
 * [GPU_IDS]`, which runs `accelerate launch --multi_gpu` and exits with the engine's codes
 * (engine/danlu_engine/launch.py). `gpuIds` is accelerate's --gpu_ids, e.g. "0,1" (null: every GPU).
 */
export function distributedEngineLauncher(
  processes: number,
  gpuIds: string | null,
  env: NodeJS.ProcessEnv = process.env,
  root: string = REPO_ROOT,
): EngineLauncher {
  if (gpuIds !== null && !/^\d+(,\d+)*$/.test(gpuIds)) {
    throw new DanluError(`gpu_ids '${gpuIds}' is not a list of GPU numbers`, {
      code: "CONFIG_INVALID",
      hint: 'write the GPUs the processes use as numbers separated by commas, e.g. gpu_ids = "0,1"',
    });
  }
  const base = engineLauncher(env, root);
  const args = ["-m", "danlu_engine.launch", String(processes), ...(gpuIds === null ? [] : [gpuIds])];
  return { ...base, args };
}
