import { rmSync } from "node:fs";
import { mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";

/** A spec written for one engine run; `cleanup` removes it if it was a temp file. */
export interface SpecFile {
  path: string;
  cleanup: () => Promise<void>;
}

/**
 * Writes the spec as JSON: to `path` when given (atomically: a temp file in the same folder, then a
 * rename; kept for the record), else to a private temp folder that cleanup() removes.
 */
export async function writeSpecFile(spec: unknown, path?: string): Promise<SpecFile> {
  const json = `${JSON.stringify(spec, null, 1)}\n`;
  if (path !== undefined) {
    const target = resolve(path);
    const temp = join(dirname(target), `.${basename(target)}.${process.pid}.tmp`);
    await writeFile(temp, json, "utf8");
    await rename(temp, target);
    return { path: target, cleanup: async () => {} };
  }
  const folder = await mkdtemp(join(tmpdir(), "danlu-spec-"));
  tempFolders.add(folder);
  const target = join(folder, "spec.json");
  await writeFile(target, json, "utf8");
  const cleanup = async () => {
    tempFolders.delete(folder);
    await rm(folder, { recursive: true, force: true });
  };
  return { path: target, cleanup };
}

/** Temp specs of runs still going when the process exits (e.g. process.exit on a second Ctrl-C). */
const tempFolders = new Set<string>();
process.once("exit", () => {
  for (const folder of tempFolders) rmSync(folder, { recursive: true, force: true });
});
