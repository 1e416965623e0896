import { mkdir, readdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { createRoute, z } from "@hono/zod-openapi";
import { listImages } from "../../dataset/images.ts";
import { notFound } from "../../jobs/paths.ts";
import { listBatches } from "../../tagging/backup.ts";
import { readFolderCaptions } from "../../tagging/edit/caption-files.ts";
import type { App, AppDeps } from "../app.ts";
import { ApiError } from "../http-error.ts";
import { ERRORS } from "../schemas.ts";
import {
  CONFLICT_ERROR,
  DatasetParam,
  LINK_ERROR,
  datasetDir,
  json,
  newDatasetName,
  refuseLinksOut,
  thumbsDirOf,
  withLock,
} from "./common.ts";
import { diskUsage } from "./usage.ts";

const DatasetSchema = z
  .object({
    name: z.string(),
    images: z.number().int().describe("image files in the folder (what training and check read)"),
    bytes: z.number().int().describe("everything in the folder: images, captions, manifest, backups"),
    modified_at: z.string().describe("ISO time the folder last changed"),
  })
  .openapi("Dataset");

const DatasetDetailSchema = DatasetSchema.extend({
  captioned: z.number().int().describe("images with a non-empty caption"),
  undo: z
    .object({ batch: z.number().int(), operation: z.string(), created_at: z.string() })
    .nullable()
    .describe("the caption edit POST /tags/undo would undo, if any"),
}).openapi("DatasetDetail");

const CreateBody = z
  .strictObject({
    name: z
      .string()
      .describe("1-100 letters, digits, '_', '-', '.' or spaces, starting with a letter, digit or '_'"),
  })
  .openapi("DatasetCreate");

async function summary(dir: string, name: string): Promise<z.infer<typeof DatasetSchema>> {
  const [images, bytes, info] = await Promise.all([listImages(dir), diskUsage(dir), stat(dir)]);
  return { name, images: images.length, bytes, modified_at: info.mtime.toISOString() };
}

export function registerDatasetCrud(app: App, deps: AppDeps): void {
  app.openapi(
    createRoute({
      method: "post",
      path: "/api/datasets",
      summary: "create an empty dataset (then upload images into it)",
      request: { body: { ...json(CreateBody), required: true } },
      responses: {
        201: { description: "created", ...json(DatasetSchema) },
        ...ERRORS,
        ...CONFLICT_ERROR,
      },
    }),
    async (c) => {
      const userId = c.get("user").id;
      const name = newDatasetName(c.req.valid("json").name, "name");
      const parent = deps.data.datasetsDir(userId);
      await mkdir(parent, { recursive: true });
      try {
        await mkdir(join(parent, name));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
        throw new ApiError(409, "CONFLICT", `dataset '${name}' already exists`, {
          field: "name",
          hint: "pick another name, or upload into the existing one",
        });
      }
      return c.json(await summary(datasetDir(deps, userId, name), name), 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/datasets",
      summary: "your datasets with their image counts and sizes",
      responses: {
        200: { description: "datasets", ...json(z.object({ datasets: z.array(DatasetSchema) })) },
        ...ERRORS,
      },
    }),
    async (c) => {
      const userId = c.get("user").id;
      const entries = await readdir(deps.data.datasetsDir(userId), { withFileTypes: true }).catch(() => []);
      const datasets = [];
      for (const entry of entries.filter((e) => e.isDirectory()).sort((a, b) => (a.name < b.name ? -1 : 1))) {
        try {
          datasets.push(await summary(datasetDir(deps, userId, entry.name), entry.name));
        } catch {
          // a folder that is not a valid dataset name (made by hand) is not listed
        }
      }
      return c.json({ datasets }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/datasets/{name}",
      summary: "one dataset: counts, size, the caption edit undo would revert",
      request: { params: DatasetParam },
      responses: {
        200: { description: "the dataset", ...json(DatasetDetailSchema) },
        ...ERRORS,
        ...LINK_ERROR,
      },
    }),
    async (c) => {
      const { name } = c.req.valid("param");
      const dir = datasetDir(deps, c.get("user").id, name);
      await refuseLinksOut(dir);
      const captions = await readFolderCaptions(dir, { extension: ".txt", recursive: false });
      // under the dataset lock: a caption save writes its backup batch folder before its journal
      const batches = await withLock(dir, () => listBatches(dir));
      const last = batches.reverse().find((batch) => batch.undone_at === undefined);
      return c.json(
        {
          ...(await summary(dir, name)),
          captioned: captions.filter((entry) => entry.tags.length > 0).length,
          undo: last ? { batch: last.batch, operation: last.operation, created_at: last.created_at } : null,
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/api/datasets/{name}",
      summary: "delete a dataset: its folder (images, captions, backups) and its cached thumbnails",
      request: { params: DatasetParam },
      responses: {
        200: { description: "deleted", ...json(z.object({ name: z.string(), deleted: z.literal(true) })) },
        ...ERRORS,
      },
    }),
    async (c) => {
      const { name } = c.req.valid("param");
      const userId = c.get("user").id;
      const dir = datasetDir(deps, userId, name);
      await withLock(dir, async () => {
        if (!(await stat(dir).catch(() => null))) throw notFound("dataset", name);
        await rm(dir, { recursive: true, force: true });
      });
      await rm(thumbsDirOf(deps, userId, name), { recursive: true, force: true });
      return c.json({ name, deleted: true as const }, 200);
    },
  );
}
