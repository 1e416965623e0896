import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { extname, join } from "node:path";
import { Readable } from "node:stream";
import { createRoute, z } from "@hono/zod-openapi";
import { readManifest } from "../../dataset/manifest.ts";
import { formatCaption } from "../../tagging/edit/caption.ts";
import { readFolderCaptions } from "../../tagging/edit/caption-files.ts";
import type { App, AppDeps } from "../app.ts";
import { ERRORS } from "../schemas.ts";
import { CHECK_FLAGS, CheckSummarySchema, checkSummary, currentCheck } from "./checks.ts";
import {
  DatasetParam,
  ImageParam,
  datasetDir,
  etagMatches,
  existingImage,
  json,
  LINK_ERROR,
  refuseLinksOut,
} from "./common.ts";

export const IMAGE_TYPES: Record<string, string> = {
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".webp": "image/webp",
  ".avif": "image/avif",
  ".gif": "image/gif",
  ".tif": "image/tiff",
  ".tiff": "image/tiff",
};

/** Browsers may keep an image or thumbnail this long, then revalidate with its ETag. */
export const CACHE_CONTROL = "private, max-age=300";

const ImageSchema = z
  .object({
    file: z.string().describe("the file name: the {file} of the image routes"),
    bytes: z.number().int(),
    modified_at: z.string(),
    width: z.number().int().nullable(),
    height: z.number().int().nullable(),
    tags: z.array(z.string()).describe("the caption's tags (empty: no caption file)"),
    caption: z.string().describe("the tags as the caption file holds them, joined with ', '"),
    flags: z
      .array(z.enum(CHECK_FLAGS))
      .nullable()
      .describe(
        "danlu data check's flags; null when the check was skipped (?check=stored and none is fresh)",
      ),
    duplicate_of: z.string().optional().describe("for a 'duplicate': the better image of the pair"),
    sharpness: z.number().optional(),
    faces: z.number().int().optional(),
    people: z.number().int().optional(),
    source: z.string().optional().describe("what it was imported from (the uploaded name)"),
  })
  .openapi("DatasetImage");

const ImagesQuery = z.object({
  check: z
    .enum(["auto", "stored"])
    .default("auto")
    .describe("auto: run the check when the images changed since the stored one; stored: never run it here"),
});

export function registerImageRoutes(app: App, deps: AppDeps): void {
  const list = createRoute({
    method: "get",
    path: "/api/datasets/{name}/images",
    summary: "every image with its caption and check flags (small, blurry, duplicate, several-people...)",
    request: { params: DatasetParam, query: ImagesQuery },
    responses: {
      200: {
        description: "images, file-name order",
        ...json(z.object({ images: z.array(ImageSchema), check: CheckSummarySchema.nullable() })),
      },
      ...ERRORS,
      ...LINK_ERROR,
    },
  });
  app.openapi(list, async (c) => {
    const dir = datasetDir(deps, c.get("user").id, c.req.valid("param").name);
    await refuseLinksOut(dir);
    const [captions, manifest, check] = await Promise.all([
      readFolderCaptions(dir, { extension: ".txt", recursive: false }),
      readManifest(dir),
      currentCheck(dir, c.req.valid("query").check === "auto"),
    ]);
    const checks = new Map((check?.images ?? []).map((image) => [image.file, image]));
    const images = await Promise.all(
      captions.map(async ({ file, tags }) => {
        const info = await stat(join(dir, file));
        const measured = checks.get(file);
        const record = manifest.images[file];
        return {
          file,
          bytes: info.size,
          modified_at: info.mtime.toISOString(),
          width: measured && !measured.error ? measured.width : (record?.width ?? null),
          height: measured && !measured.error ? measured.height : (record?.height ?? null),
          tags,
          caption: formatCaption(tags),
          flags: measured ? measured.flags : null,
          ...(measured?.duplicateOf ? { duplicate_of: measured.duplicateOf } : {}),
          ...(measured && !measured.error ? { sharpness: measured.sharpness } : {}),
          ...(measured?.faces !== undefined ? { faces: measured.faces } : {}),
          ...(measured?.people !== undefined ? { people: measured.people } : {}),
          ...(record ? { source: record.source } : {}),
        };
      }),
    );
    return c.json({ images, check: check ? checkSummary(check) : null }, 200);
  });

  const original = createRoute({
    method: "get",
    path: "/api/datasets/{name}/images/{file}",
    summary: "the image file itself (ETag, Cache-Control)",
    request: { params: ImageParam },
    responses: {
      200: {
        description: "the image",
        content: { "image/png": { schema: z.string().openapi({ format: "binary" }) } },
      },
      304: { description: "not modified (If-None-Match)" },
      ...ERRORS,
    },
  });
  app.openapi(original, async (c) => {
    const { name, file } = c.req.valid("param");
    const path = existingImage(datasetDir(deps, c.get("user").id, name), file);
    const info = await stat(path);
    const etag = `"${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}"`;
    const headers: Record<string, string> = {
      etag,
      "cache-control": CACHE_CONTROL,
      "x-content-type-options": "nosniff",
    };
    if (etagMatches(c.req.header("if-none-match"), etag))
      return new Response(null, { status: 304, headers }) as never;
    const body = Readable.toWeb(createReadStream(path)) as ReadableStream;
    return new Response(body, {
      status: 200,
      headers: {
        ...headers,
        "content-type": IMAGE_TYPES[extname(path).toLowerCase()] ?? "application/octet-stream",
        "content-length": String(info.size),
        "content-disposition": `inline; filename*=UTF-8''${encodeURIComponent(file)}`,
      },
    }) as never;
  });
}
