import { createHash, randomBytes } from "node:crypto";
import { mkdir, readFile, readdir, rename, unlink, writeFile } from "node:fs/promises";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { z } from "zod";
import { DanluError } from "../errors.ts";

/**
 * Numbered backups of caption files. Every batch of writes first copies the files it will change into
 * ROOT/.danlu-backups/NNNN/files/ and records them in NNNN/journal.json, then writes each new version
 * atomically. `undoLastBatch` puts the newest batch not yet undone back. Backups are never deleted.
 */
export const BACKUP_DIR = ".danlu-backups";

const journalSchema = z.strictObject({
  version: z.literal(1),
  batch: z.number().int().positive(),
  operation: z.string(),
  created_at: z.string(),
  // "writing" until every file is written: an interrupted batch can still be undone.
  status: z.enum(["writing", "complete"]),
  files: z.array(
    z.strictObject({
      path: z.string(), // relative to ROOT, forward slashes
      existed: z.boolean(), // false: the batch created it, undo deletes it
      sha256_before: z.string().nullable(),
      sha256_after: z.string(),
    }),
  ),
  undone_at: z.string().optional(),
});
export type BatchJournal = z.infer<typeof journalSchema>;

export interface FileWrite {
  /** Path relative to the root folder. */
  path: string;
  text: string;
}

/** Writes a file through a temp file in the same folder and a rename: readers see old or new, never half. */
export async function writeFileAtomic(path: string, data: string | Buffer): Promise<void> {
  const temp = `${path}.${randomBytes(4).toString("hex")}.tmp`;
  try {
    await writeFile(temp, data);
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => {});
    throw error;
  }
}

const sha256 = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");

async function readIfExists(path: string): Promise<Buffer | null> {
  try {
    return await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
}

/** ROOT/relativePath, refusing paths that leave ROOT or point into the backup folder. */
function insideRoot(root: string, relativePath: string): string {
  const full = resolve(root, relativePath);
  const rel = relative(resolve(root), full);
  if (rel === "" || rel.startsWith("..") || isAbsolute(rel) || rel.split(/[\\/]/u)[0] === BACKUP_DIR) {
    throw new DanluError(`refusing to write ${relativePath}: it is not a file inside ${root}`, {
      code: "OUTSIDE_ROOT",
    });
  }
  return full;
}

async function batchNumbers(root: string): Promise<number[]> {
  const names = await readdir(join(root, BACKUP_DIR)).catch(() => [] as string[]);
  return names
    .filter((name) => /^\d{4,}$/u.test(name))
    .map(Number)
    .sort((a, b) => a - b);
}

/** Creates the next numbered batch folder; mkdir without `recursive` fails if a parallel run took the number. */
async function createBatchFolder(root: string): Promise<{ batch: number; folder: string }> {
  await mkdir(join(root, BACKUP_DIR), { recursive: true });
  for (let attempt = 0; attempt < 100; attempt++) {
    const batch = ((await batchNumbers(root)).at(-1) ?? 0) + 1;
    const folder = join(root, BACKUP_DIR, String(batch).padStart(4, "0"));
    try {
      await mkdir(folder);
      return { batch, folder };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
  }
  throw new DanluError(`cannot create a backup folder in ${join(root, BACKUP_DIR)}`);
}

const writeJournal = (folder: string, journal: BatchJournal) =>
  writeFileAtomic(join(folder, "journal.json"), JSON.stringify(journal, null, 2) + "\n");

/**
 * Writes the files of one batch with a backup of each. Files whose text would not change are skipped;
 * a batch with nothing to change creates no backup folder and returns batch null.
 */
export async function writeBatchWithBackup(
  root: string,
  writes: readonly FileWrite[],
  operation: string,
): Promise<{ batch: number | null; written: number }> {
  const planned = [];
  for (const write of writes) {
    const full = insideRoot(root, write.path);
    const before = await readIfExists(full);
    if (before !== null && before.equals(Buffer.from(write.text, "utf8"))) continue;
    planned.push({ ...write, full, before, path: relative(resolve(root), full).split("\\").join("/") });
  }
  if (planned.length === 0) return { batch: null, written: 0 };

  const { batch, folder } = await createBatchFolder(root);
  const journal: BatchJournal = {
    version: 1,
    batch,
    operation,
    created_at: new Date().toISOString(),
    status: "writing",
    files: planned.map((p) => ({
      path: p.path,
      existed: p.before !== null,
      sha256_before: p.before === null ? null : sha256(p.before),
      sha256_after: sha256(p.text),
    })),
  };
  for (const p of planned) {
    if (p.before === null) continue;
    const copy = join(folder, "files", p.path);
    await mkdir(dirname(copy), { recursive: true });
    await writeFile(copy, p.before);
  }
  await writeJournal(folder, journal);
  for (const p of planned) await writeFileAtomic(p.full, p.text);
  await writeJournal(folder, { ...journal, status: "complete" });
  return { batch, written: planned.length };
}

async function readJournal(root: string, batch: number): Promise<BatchJournal> {
  const path = join(root, BACKUP_DIR, String(batch).padStart(4, "0"), "journal.json");
  const parsed = journalSchema.safeParse(JSON.parse(await readFile(path, "utf8")));
  if (!parsed.success) {
    throw new DanluError(`${path} is not a danlu backup journal`, {
      hint: "it was edited by hand; fix it or move that batch folder aside",
    });
  }
  return parsed.data;
}

/** Every batch, oldest first. */
export async function listBatches(root: string): Promise<BatchJournal[]> {
  return Promise.all((await batchNumbers(root)).map((batch) => readJournal(root, batch)));
}

/**
 * Restores the files of the newest batch not yet undone. A file changed again since that batch wrote
 * it is a conflict: nothing is restored unless `force`.
 */
export async function undoLastBatch(
  root: string,
  options: { force?: boolean } = {},
): Promise<{ journal: BatchJournal; restored: number; removed: number }> {
  const journal = (await listBatches(root)).reverse().find((j) => j.undone_at === undefined);
  if (!journal) {
    throw new DanluError(`nothing to undo in ${root}`, {
      hint: `no batch of caption edits is recorded in ${join(root, BACKUP_DIR)}`,
      code: "NOTHING_TO_UNDO",
    });
  }
  const folder = join(root, BACKUP_DIR, String(journal.batch).padStart(4, "0"));
  const conflicts = [];
  for (const file of journal.files) {
    const now = await readIfExists(insideRoot(root, file.path));
    const hash = now === null ? null : sha256(now);
    if (hash !== file.sha256_after && hash !== file.sha256_before) conflicts.push(file.path);
  }
  if (conflicts.length > 0 && !options.force) {
    throw new DanluError(
      `batch ${journal.batch} (${journal.operation}): ${conflicts.length} file(s) changed since, e.g. ${conflicts[0]}`,
      {
        hint: "undo would lose those later changes; rerun with --force to restore anyway",
        code: "UNDO_CONFLICT",
      },
    );
  }
  let restored = 0;
  let removed = 0;
  for (const file of journal.files) {
    const full = insideRoot(root, file.path);
    if (file.existed) {
      await writeFileAtomic(full, await readFile(join(folder, "files", file.path)));
      restored++;
    } else if ((await readIfExists(full)) !== null) {
      await unlink(full);
      removed++;
    }
  }
  const undone = { ...journal, undone_at: new Date().toISOString() };
  await writeJournal(folder, undone);
  return { journal: undone, restored, removed };
}
