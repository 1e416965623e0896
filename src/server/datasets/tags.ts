import { createRoute, z } from "@hono/zod-openapi";
import { DanluError } from "../../errors.ts";
import { undoLastBatch } from "../../tagging/backup.ts";
import { DEFAULT_CAPTION_EXTENSION, readFolderCaptions } from "../../tagging/edit/caption-files.ts";
import { editFolderCaptions } from "../../tagging/edit/folder-edit.ts";
import { tagFrequency } from "../../tagging/edit/frequency.ts";
import type { App, AppDeps } from "../app.ts";
import { ApiError } from "../http-error.ts";
import { ERRORS } from "../schemas.ts";
import {
  CONFLICT_ERROR,
  DatasetParam,
  LINK_ERROR,
  datasetDir,
  json,
  refuseLinksOut,
  withLock,
} from "./common.ts";
import { TagOperationSchema, prepareOperation } from "./tag-ops.ts";

/** The dataset's tags: the frequency table, bulk edits (danlu tags add/remove/...), and undo. */

const FOLDER = { extension: DEFAULT_CAPTION_EXTENSION, recursive: false };

const FrequencySchema = z
  .object({
    images: z.number().int(),
    tags: z.array(
      z.object({ tag: z.string(), images: z.number().int(), share: z.number().describe("0..1") }),
    ),
  })
  .openapi("TagFrequency");

const EditResultSchema = z
  .object({
    matched: z.number().int().describe("images the filter matched"),
    changed: z.number().int(),
    batch: z.number().int().nullable().describe("the backup batch (undo reverts it); null: nothing written"),
    dry_run: z.boolean(),
    keep_first: z.number().int().describe("leading tags left fixed"),
    trigger: z.string().nullable().describe("keep_first auto: the shared first tag it kept fixed"),
    traits: z.array(z.string()).optional().describe("bake: the trait tags removed"),
    changes: z.array(z.object({ file: z.string(), before: z.array(z.string()), after: z.array(z.string()) })),
  })
  .openapi("TagEditResult");

const UndoResultSchema = z
  .object({
    batch: z.number().int(),
    operation: z.string(),
    created_at: z.string(),
    restored: z.number().int(),
    removed: z.number().int().describe("caption files the batch had created"),
  })
  .openapi("UndoResult");

export function registerTagRoutes(app: App, deps: AppDeps): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/api/datasets/{name}/tags",
      summary: "tag frequency: images per tag, most frequent first (danlu tags freq)",
      request: {
        params: DatasetParam,
        query: z.object({
          top: z.coerce.number().int().min(1).max(100_000).optional().describe("only the N most frequent"),
        }),
      },
      responses: { 200: { description: "the table", ...json(FrequencySchema) }, ...ERRORS, ...LINK_ERROR },
    }),
    async (c) => {
      const dir = datasetDir(deps, c.get("user").id, c.req.valid("param").name);
      await refuseLinksOut(dir);
      const entries = await readFolderCaptions(dir, FOLDER);
      return c.json(
        { images: entries.length, tags: tagFrequency(entries).slice(0, c.req.valid("query").top) },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/api/datasets/{name}/tags",
      summary:
        "one bulk tag edit over the (filtered) images, written as one undoable batch (danlu tags <op>)",
      request: { params: DatasetParam, body: { ...json(TagOperationSchema), required: true } },
      responses: {
        200: { description: "what changed", ...json(EditResultSchema) },
        ...ERRORS,
        ...LINK_ERROR,
      },
    }),
    async (c) => {
      const body = c.req.valid("json");
      const dir = datasetDir(deps, c.get("user").id, c.req.valid("param").name);
      const prepared = prepareOperation(body);
      await refuseLinksOut(dir);
      const result = await withLock(dir, () =>
        editFolderCaptions(dir, {
          folder: FOLDER,
          filter: prepared.filter,
          keepFirst: body.op === "bake" ? 0 : body.keep_first,
          operation: prepared.operation,
          dryRun: body.dry_run,
          makeEdit: prepared.makeEdit,
        }),
      );
      return c.json(
        {
          matched: result.matched,
          changed: result.changes.length,
          batch: result.batch,
          dry_run: body.dry_run,
          keep_first: result.keepFirst,
          trigger: result.trigger,
          ...(prepared.traits ? { traits: prepared.traits } : {}),
          changes: result.changes,
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/api/datasets/{name}/tags/undo",
      summary: "restore the captions of the last edit (bulk or single) not yet undone (danlu tags undo)",
      request: {
        params: DatasetParam,
        body: {
          ...json(
            z.strictObject({
              force: z.boolean().default(false).describe("restore even captions changed since"),
            }),
          ),
          required: false,
        },
      },
      responses: {
        200: { description: "undone", ...json(UndoResultSchema) },
        ...ERRORS,
        ...CONFLICT_ERROR,
      },
    }),
    async (c) => {
      const dir = datasetDir(deps, c.get("user").id, c.req.valid("param").name);
      const force = c.req.valid("json").force ?? false;
      try {
        const { journal, restored, removed } = await withLock(dir, () => undoLastBatch(dir, { force }));
        return c.json(
          {
            batch: journal.batch,
            operation: journal.operation,
            created_at: journal.created_at,
            restored,
            removed,
          },
          200,
        );
      } catch (error) {
        if (
          error instanceof DanluError &&
          (error.code === "NOTHING_TO_UNDO" || error.code === "UNDO_CONFLICT")
        ) {
          // the library's messages name the server folder: say it in the API's words
          const message =
            error.code === "NOTHING_TO_UNDO"
              ? "nothing to undo: no caption edit of this dataset is left to revert"
              : error.message.replace(/^batch/u, "the last edit, batch");
          const hint = error.code === "UNDO_CONFLICT" ? 'send {"force": true} to restore anyway' : undefined;
          throw new ApiError(409, error.code, message, hint ? { hint } : {});
        }
        throw error;
      }
    },
  );
}
