import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { MODEL_KINDS, type KnownModel } from "./registry.ts";

/** danlu-model.json in each model folder danlu filled: where its files came from and their sha256. */
export const MODEL_RECORD = "danlu-model.json";

const modelRecord = z.strictObject({
  name: z.string(),
  kind: z.enum(MODEL_KINDS),
  repo: z.string(),
  revision: z.string(),
  pulled_at: z.string(),
  files: z.array(
    z.strictObject({
      path: z.string(),
      size: z.number(),
      sha256: z.string(),
      /** true when the sha256 matched the catalogue's; false when it was only recorded. */
      checked: z.boolean(),
      /** The URL it was downloaded from, or the file `danlu models add` copied. */
      from: z.string().optional(),
    }),
  ),
});
export type ModelRecord = z.infer<typeof modelRecord>;
export type RecordedFile = ModelRecord["files"][number];

export async function readRecord(folder: string): Promise<ModelRecord | undefined> {
  const path = join(folder, MODEL_RECORD);
  if (!existsSync(path)) return undefined;
  const parsed = modelRecord.safeParse(JSON.parse(await readFile(path, "utf8")));
  return parsed.success ? parsed.data : undefined;
}

export async function writeRecord(folder: string, record: ModelRecord): Promise<void> {
  const path = join(folder, MODEL_RECORD);
  const temp = `${path}.${randomBytes(4).toString("hex")}.tmp`;
  await writeFile(temp, JSON.stringify(record, null, 2) + "\n");
  await rename(temp, path);
}

/** A model's record as written now: what it is, where it comes from, and the files it has. */
export function newRecord(model: KnownModel, files: RecordedFile[]): ModelRecord {
  return {
    name: model.name,
    kind: model.kind,
    repo: model.repo,
    revision: model.revision,
    pulled_at: new Date().toISOString(),
    files,
  };
}
