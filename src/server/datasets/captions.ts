import { readFile } from "node:fs/promises";
import { createRoute, z } from "@hono/zod-openapi";
import { writeBatchWithBackup } from "../../tagging/backup.ts";
import { formatCaption, parseCaption, parseTagList } from "../../tagging/edit/caption.ts";
import {
  DEFAULT_CAPTION_EXTENSION,
  captionFileFor,
  decodeCaptionText,
} from "../../tagging/edit/caption-files.ts";
import type { App, AppDeps } from "../app.ts";
import { ERRORS } from "../schemas.ts";
import { ImageParam, datasetDir, datasetFile, existingImage, json, withLock } from "./common.ts";

/** One image's caption file (DATASET/<image stem>.txt): read it, or replace it as `danlu tags edit --set` does. */

const CaptionSchema = z
  .object({
    file: z.string().describe("the image"),
    caption_file: z.string(),
    exists: z.boolean().describe("false: the image has no caption file yet"),
    text: z.string().describe("the caption file's text as stored"),
    tags: z.array(z.string()).describe("the text split into tags"),
    batch: z
      .number()
      .int()
      .nullable()
      .optional()
      .describe("PUT: the backup batch (undo reverts it); null: unchanged"),
  })
  .openapi("Caption");

const CaptionBody = z
  .strictObject({
    tags: z.array(z.string().max(1000)).max(1000).optional().describe("the new tags, in order"),
    text: z.string().max(100_000).optional().describe("or the new caption text (comma-separated tags)"),
  })
  .refine((body) => (body.tags === undefined) !== (body.text === undefined), {
    message: "give either 'tags' or 'text'",
  })
  .openapi("CaptionUpdate");

async function readCaption(path: string): Promise<string | null> {
  try {
    return decodeCaptionText(await readFile(path));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
}

/** The image and its caption file, both checked to stay inside the dataset (404 otherwise). */
function captionOf(deps: AppDeps, userId: string, name: string, file: string) {
  const dir = datasetDir(deps, userId, name);
  existingImage(dir, file);
  const captionFile = captionFileFor(file, DEFAULT_CAPTION_EXTENSION);
  return { dir, captionFile, path: datasetFile(dir, captionFile, "caption") };
}

export function registerCaptionRoutes(app: App, deps: AppDeps): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/api/datasets/{name}/captions/{file}",
      summary: "one image's caption: its tags and the raw text",
      request: { params: ImageParam },
      responses: { 200: { description: "the caption", ...json(CaptionSchema) }, ...ERRORS },
    }),
    async (c) => {
      const { name, file } = c.req.valid("param");
      const { captionFile, path } = captionOf(deps, c.get("user").id, name, file);
      const text = await readCaption(path);
      return c.json(
        {
          file,
          caption_file: captionFile,
          exists: text !== null,
          text: text ?? "",
          tags: parseCaption(text ?? ""),
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: "put",
      path: "/api/datasets/{name}/captions/{file}",
      summary: "replace one image's caption (backed up like every edit: POST /tags/undo reverts it)",
      request: { params: ImageParam, body: { ...json(CaptionBody), required: true } },
      responses: { 200: { description: "the caption now", ...json(CaptionSchema) }, ...ERRORS },
    }),
    async (c) => {
      const { name, file } = c.req.valid("param");
      const body = c.req.valid("json");
      const userId = c.get("user").id;
      const tags = body.tags !== undefined ? parseTagList(body.tags) : parseCaption(body.text ?? "");
      const text = formatCaption(tags);
      const { batch, captionFile } = await withLock(datasetDir(deps, userId, name), async () => {
        const { dir, captionFile } = captionOf(deps, userId, name, file);
        const written = await writeBatchWithBackup(dir, [{ path: captionFile, text }], `tags edit ${file}`);
        return { batch: written.batch, captionFile };
      });
      return c.json({ file, caption_file: captionFile, exists: true, text, tags, batch }, 200);
    },
  );
}
