import { randomBytes } from "node:crypto";
import { mkdir, readdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { createRoute, z } from "@hono/zod-openapi";
import { importImages, type ImportReport } from "../../dataset/import/index.ts";
import { readManifest, writeManifest } from "../../dataset/manifest.ts";
import type { App, AppDeps } from "../app.ts";
import { ApiError } from "../http-error.ts";
import { formatBytes } from "../limits.ts";
import { ERRORS, ErrorSchema } from "../schemas.ts";
import { DatasetParam, TOO_LARGE_ERROR, datasetDir, json, withLock } from "./common.ts";
import {
  FILE_FIELD,
  quotaExceeded,
  receiveFiles,
  requestTooLarge,
  type ReceiveOptions,
  type SavedPart,
} from "./receive.ts";
import { diskUsage } from "./usage.ts";

const STATUSES = ["imported", "duplicate", "rejected", "skipped"] as const;

export const UploadReportSchema = z
  .object({
    dataset: z.string(),
    counts: z.object({
      imported: z.number().int(),
      duplicate: z.number().int(),
      rejected: z.number().int(),
      skipped: z.number().int(),
    }),
    files: z.array(
      z.object({
        name: z.string().describe("as uploaded; 'archive.zip:entry/name.jpg' for a zip's entries"),
        status: z.enum(STATUSES),
        reason: z.string().optional().describe("why it was not imported (or a warning about its caption)"),
        file: z
          .string()
          .optional()
          .describe("the dataset image it became (or, for a duplicate, the one it repeats)"),
      }),
    ),
    seconds: z.number(),
  })
  .openapi("UploadReport");
export type UploadReport = z.infer<typeof UploadReportSchema>;

/** Rewrites the upload folder's paths in a report or manifest string into the names the user uploaded. */
function relabeller(
  uploadDir: string,
  parts: readonly SavedPart[],
  dataRoot: string,
): (text: string) => string {
  const labels = parts
    .map((part) => ({ path: join(uploadDir, part.saved), label: part.original || part.saved }))
    .sort((a, b) => b.path.length - a.path.length);
  return (text) => {
    let out = text;
    for (const { path, label } of labels) out = out.replaceAll(path, label);
    return out.replaceAll(uploadDir, "upload").replaceAll(dataRoot, "DATA");
  };
}

/** The import's report for the client: names as uploaded, no server path. */
function uploadReport(
  dataset: string,
  report: ImportReport,
  relabel: (text: string) => string,
): UploadReport {
  return {
    dataset,
    counts: report.counts,
    files: report.entries.map((entry) => ({
      name: relabel(entry.source),
      status: entry.status,
      ...(entry.reason !== undefined ? { reason: relabel(entry.reason) } : {}),
      ...(entry.file !== undefined ? { file: entry.file } : {}),
    })),
    seconds: Math.round(report.seconds * 1000) / 1000,
  };
}

/** The manifest keeps each image's source: the uploaded name, not the temporary folder it was read from. */
async function relabelManifest(
  dir: string,
  uploadDir: string,
  relabel: (text: string) => string,
): Promise<void> {
  const manifest = await readManifest(dir);
  let changed = false;
  for (const record of Object.values(manifest.images)) {
    if (record.source.startsWith(uploadDir)) {
      record.source = relabel(record.source);
      changed = true;
    }
    if (record.caption_source?.startsWith(uploadDir)) {
      record.caption_source = relabel(record.caption_source);
      changed = true;
    }
  }
  if (changed) await writeManifest(dir, manifest);
}

/** Upload folders older than this were left by a server that stopped mid-upload: removed by the next upload. */
const STALE_UPLOAD_MS = 24 * 3600_000;

async function removeStaleUploads(tmpDir: string): Promise<void> {
  for (const name of await readdir(tmpDir).catch(() => [] as string[])) {
    if (!name.startsWith("upload-")) continue;
    const info = await stat(join(tmpDir, name)).catch(() => null);
    if (info && Date.now() - info.mtimeMs > STALE_UPLOAD_MS) {
      await rm(join(tmpDir, name), { recursive: true, force: true });
    }
  }
}

export interface UploadOptions extends ReceiveOptions {
  /**
   * The dataset the photos go into, called once the body is in and holds files, with the text fields
   * received (`textFields`): it may refuse them (an ApiError) or create the dataset. Its name.
   */
  target: (fields: Record<string, string>) => Promise<string> | string;
}

/**
 * One upload, as POST /api/datasets/{name}/upload and POST /api/portraits take it: the request and quota
 * limits, the body streamed to a temporary folder, the import into the target dataset under its lock,
 * names relabelled to what the user sent. The temporary folder is removed either way.
 */
export async function uploadToDataset(
  request: Request,
  deps: AppDeps,
  userId: string,
  options: UploadOptions,
): Promise<{ report: UploadReport; fields: Record<string, string> }> {
  const { limits } = deps;
  const declared = Number(request.headers.get("content-length") ?? Number.NaN);
  if (declared > limits.maxRequestBytes) throw requestTooLarge(limits.maxRequestBytes);
  const userDir = deps.data.userDir(userId);
  await removeStaleUploads(join(userDir, "tmp"));
  const remaining = limits.maxUserBytes - (await diskUsage(userDir));
  if (remaining <= 0 || declared > remaining) throw quotaExceeded(limits.maxUserBytes);

  const uploadDir = join(userDir, "tmp", `upload-${randomBytes(8).toString("hex")}`);
  await mkdir(uploadDir, { recursive: true });
  try {
    const { parts, fields } = await receiveFiles(
      request,
      uploadDir,
      { ...limits, remainingUserBytes: remaining },
      options,
    );
    if (parts.length === 0) {
      throw new ApiError(400, "BAD_REQUEST", "no files in the upload", {
        field: FILE_FIELD,
        hint: `send one or more '${FILE_FIELD}' parts with a file name`,
      });
    }
    const name = await options.target(fields);
    const relabel = relabeller(uploadDir, parts, deps.data.root);
    const dir = datasetDir(deps, userId, name);
    const report = await withLock(dir, async () => {
      datasetDir(deps, userId, name); // still there: it may have been deleted while the files came in
      const imported = await importImages([uploadDir], {
        outDir: dir,
        maxPixels: limits.maxPixels,
        zipLimits: limits.zip,
      });
      await relabelManifest(dir, uploadDir, relabel);
      return imported;
    });
    return { report: uploadReport(name, report, relabel), fields };
  } finally {
    await rm(uploadDir, { recursive: true, force: true });
  }
}

/** The multipart body both upload routes document (a JSON Schema: the body is streamed, never buffered). */
export function multipartBody(extra: Record<string, { type: "string"; description: string }> = {}) {
  return {
    required: true,
    content: {
      "multipart/form-data": {
        schema: {
          type: "object" as const,
          properties: {
            [FILE_FIELD]: { type: "array" as const, items: { type: "string" as const, format: "binary" } },
            ...extra,
          },
          required: [FILE_FIELD, ...Object.keys(extra)],
        },
      },
    },
  };
}

export const uploadLimitsText = (limits: AppDeps["limits"]) =>
  `Limits: ${formatBytes(limits.maxFileBytes)} per file, ${formatBytes(limits.maxRequestBytes)} per request, ` +
  `${formatBytes(limits.maxUserBytes)} per user; zips pass the import's zip-bomb and path checks.`;

export function registerUploadRoute(app: App, deps: AppDeps): void {
  const route = createRoute({
    method: "post",
    path: "/api/datasets/{name}/upload",
    summary:
      "upload images, caption .txt files and .zip archives (multipart/form-data, one or more 'files' parts); " +
      "each goes through the import (danlu data import): converted to PNG, bad files named with the reason",
    description: uploadLimitsText(deps.limits),
    request: { params: DatasetParam, body: multipartBody() },
    responses: {
      200: { description: "the import report", ...json(UploadReportSchema) },
      ...ERRORS,
      ...TOO_LARGE_ERROR,
      415: { description: "not multipart/form-data", ...json(ErrorSchema) },
    },
  });
  app.openapi(route, async (c) => {
    const { name } = c.req.valid("param");
    const userId = c.get("user").id;
    datasetDir(deps, userId, name); // a 404 before the body is read
    const { report } = await uploadToDataset(c.req.raw, deps, userId, { target: () => name });
    return c.json(report, 200);
  });
}
