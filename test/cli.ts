import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { REPO_ROOT } from "../src/engine/python.ts";

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real CLI (`node bin/danlu.js ...`); `onLine` sees each stdout line as it arrives. */
export function runCli(
  args: string[],
  options: { onLine?: (line: string, child: ChildProcess) => void; cwd?: string } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(REPO_ROOT, "bin", "danlu.js"), ...args], {
      cwd: options.cwd ?? REPO_ROOT,
      env: { ...process.env, FORCE_COLOR: "0" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let pending = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
      pending += chunk;
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) options.onLine?.(line, child);
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * A tiny random-weight SD1.5 through the real CLI (`danlu model make-tiny --arch sd15 --single-file
 * ...extra --out OUT`), as the end-to-end tests start; a failure stops the test with the CLI's stderr.
 */
export async function makeTinySd15(out: string, ...extra: string[]): Promise<CliResult> {
  const made = await runCli([
    "model",
    "make-tiny",
    "--arch",
    "sd15",
    "--single-file",
    ...extra,
    "--out",
    out,
  ]);
  if (made.code !== 0) throw new Error(`danlu model make-tiny failed (exit ${made.code}):\n${made.stderr}`);
  return made;
}
