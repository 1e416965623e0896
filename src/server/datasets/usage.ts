import { lstat, readdir } from "node:fs/promises";
import { join } from "node:path";

/** Bytes of the regular files under `dir` (symlinks are not followed; a missing folder is 0). */
export async function diskUsage(dir: string): Promise<number> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return 0;
    throw error;
  }
  let total = 0;
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += await diskUsage(path);
    else if (entry.isFile())
      total += await lstat(path).then(
        (info) => info.size,
        () => 0,
      );
  }
  return total;
}
