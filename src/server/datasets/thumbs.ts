import { createHash } from "node:crypto";
import { mkdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { createRoute, z } from "@hono/zod-openapi";
import { canonicalPixels } from "../../dataset/images.ts";
import { firstLine } from "../../dataset/import/sources.ts";
import { writeFileAtomic } from "../../tagging/backup.ts";
import type { App, AppDeps } from "../app.ts";
import { ApiError } from "../http-error.ts";
import { ERRORS, ErrorSchema } from "../schemas.ts";
import { CACHE_CONTROL } from "./images.ts";
import { ImageParam, datasetDir, etagMatches, existingImage, json, once, thumbsDirOf } from "./common.ts";

/**
 * Thumbnails, made by the server with sharp and kept in DATA/cache/thumbs/<user>/<dataset>/. The cache
 * key holds the image's name, size and mtime and the thumbnail's size and format, so a changed image gets
 * a new thumbnail and an unchanged one is never rendered twice. Only a few sizes exist, so the cache
 * cannot be grown without bound by asking for every size.
 */

export const THUMB_SIZES = ["64", "128", "256", "512"] as const;
const FORMATS = { jpeg: "image/jpeg", webp: "image/webp" } as const;
type ThumbFormat = keyof typeof FORMATS;

/** Thumbnails rendered by this process (tests read it to see the cache work). */
export const thumbStats = { rendered: 0 };

const WHITE = { r: 255, g: 255, b: 255 };
const rendering = new Map<string, Promise<void>>();

export interface Thumbnail {
  path: string;
  etag: string;
  contentType: string;
}

/** The cached thumbnail of `source`, rendered first when there is none for this version of the image. */
export async function thumbnail(
  source: string,
  cacheDir: string,
  file: string,
  size: number,
  format: ThumbFormat,
): Promise<Thumbnail> {
  const info = await stat(source);
  const key = createHash("sha256")
    .update(`${file}\0${info.size}\0${info.mtimeMs}\0${size}\0${format}`)
    .digest("hex")
    .slice(0, 32);
  const path = join(cacheDir, `${key}.${format === "jpeg" ? "jpg" : "webp"}`);
  const exists = await stat(path).then(
    () => true,
    () => false,
  );
  if (!exists) {
    await once(rendering, path, async () => {
      const pipeline = canonicalPixels(source, WHITE).resize(size, size, {
        fit: "inside",
        withoutEnlargement: true,
      });
      const encoded =
        format === "jpeg" ? pipeline.jpeg({ quality: 80, mozjpeg: true }) : pipeline.webp({ quality: 75 });
      const bytes = await encoded.toBuffer().catch((error: unknown) => {
        throw new ApiError(
          422,
          "UNREADABLE_IMAGE",
          `cannot make a thumbnail of '${file}': ${firstLine(error)}`,
          {
            hint: "POST /check flags it 'unreadable'; delete it or upload it again",
          },
        );
      });
      await mkdir(cacheDir, { recursive: true });
      await writeFileAtomic(path, bytes);
      thumbStats.rendered += 1;
    });
  }
  return { path, etag: `"${key}"`, contentType: FORMATS[format] };
}

export function registerThumbRoute(app: App, deps: AppDeps): void {
  const route = createRoute({
    method: "get",
    path: "/api/datasets/{name}/images/{file}/thumb",
    summary: "a thumbnail (fits in size x size, never enlarged), made once and cached; ETag, Cache-Control",
    request: {
      params: ImageParam,
      query: z.object({
        size: z.enum(THUMB_SIZES).default("256").describe("the longer side's most pixels"),
        format: z.enum(["jpeg", "webp"]).default("jpeg"),
      }),
    },
    responses: {
      200: {
        description: "the thumbnail",
        content: { "image/jpeg": { schema: z.string().openapi({ format: "binary" }) } },
      },
      304: { description: "not modified (If-None-Match)" },
      ...ERRORS,
      422: { description: "the image cannot be decoded (UNREADABLE_IMAGE)", ...json(ErrorSchema) },
    },
  });
  app.openapi(route, async (c) => {
    const { name, file } = c.req.valid("param");
    const { size, format } = c.req.valid("query");
    const userId = c.get("user").id;
    const source = existingImage(datasetDir(deps, userId, name), file);
    const thumb = await thumbnail(source, thumbsDirOf(deps, userId, name), file, Number(size), format);
    const headers = { etag: thumb.etag, "cache-control": CACHE_CONTROL, "x-content-type-options": "nosniff" };
    if (etagMatches(c.req.header("if-none-match"), thumb.etag)) {
      return new Response(null, { status: 304, headers }) as never;
    }
    const bytes = await readFile(thumb.path);
    return new Response(new Uint8Array(bytes), {
      status: 200,
      headers: { ...headers, "content-type": thumb.contentType, "content-length": String(bytes.length) },
    }) as never;
  });
}
