import { createReadStream, existsSync, readdirSync, statSync } from "node:fs";
import { extname, join, relative } from "node:path";
import { Readable } from "node:stream";
import { createRoute, z } from "@hono/zod-openapi";
import { notFound, safeJoin } from "../../jobs/paths.ts";
import { visibleJob } from "../access.ts";
import type { App, AppDeps } from "../app.ts";
import { ApiError } from "../http-error.ts";
import { ERRORS, JobIdParam } from "../schemas.ts";

const FileSchema = z
  .object({
    path: z.string().describe("relative to the job's folder"),
    bytes: z.number().int(),
    modified_at: z.string(),
    kind: z.enum(["lora", "state", "image", "log", "report", "other"]),
  })
  .openapi("JobFile");

const TYPES: Record<string, string> = {
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".webp": "image/webp",
  ".json": "application/json",
  ".jsonl": "application/x-ndjson",
  ".csv": "text/csv; charset=utf-8",
  ".log": "text/plain; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
  ".md": "text/markdown; charset=utf-8",
  ".html": "text/plain; charset=utf-8", // never rendered from the API's origin: a report is downloaded, not run
  ".safetensors": "application/octet-stream",
};

function fileKind(path: string): z.infer<typeof FileSchema>["kind"] {
  if (/-state\//.test(path)) return "state";
  if (path.endsWith(".safetensors")) return "lora";
  if (/\.(png|jpe?g|webp)$/.test(path)) return "image";
  if (/\.(log|csv|jsonl)$/.test(path)) return "log";
  if (/\.(md|html)$/.test(path)) return "report";
  return "other";
}

function walk(root: string, dir: string, out: z.infer<typeof FileSchema>[]): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) walk(root, path, out);
    else if (entry.isFile()) {
      const stat = statSync(path);
      const rel = relative(root, path).split("\\").join("/");
      out.push({ path: rel, bytes: stat.size, modified_at: stat.mtime.toISOString(), kind: fileKind(rel) });
    }
  }
}

/** `bytes=a-b`, `bytes=a-`, `bytes=-n` (one range); null for none, "bad" when it cannot be met. */
export function parseRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | null | "bad" {
  if (!header) return null;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === "" && match[2] === "")) return "bad";
  let start: number;
  let end: number;
  if (match[1] === "") {
    start = Math.max(0, size - Number(match[2]));
    end = size - 1;
  } else {
    start = Number(match[1]);
    end = match[2] === "" ? size - 1 : Math.min(Number(match[2]), size - 1);
  }
  return start > end || start >= size ? "bad" : { start, end };
}

export function registerArtifactRoutes(app: App, deps: AppDeps): void {
  const { queue, data } = deps;
  const list = createRoute({
    method: "get",
    path: "/api/jobs/{id}/files",
    summary: "the job's files: LoRA files, samples, grids, reports, logs, states",
    request: { params: JobIdParam },
    responses: {
      200: {
        description: "files",
        content: { "application/json": { schema: z.object({ files: z.array(FileSchema) }) } },
      },
      ...ERRORS,
    },
  });
  app.openapi(list, async (c) => {
    const job = await visibleJob(queue, c.get("user"), c.req.valid("param").id);
    const dir = data.jobDir(job.owner, job.id);
    const files: z.infer<typeof FileSchema>[] = [];
    if (existsSync(dir)) walk(dir, dir, files);
    files.sort((a, b) => a.path.localeCompare(b.path));
    return c.json({ files }, 200);
  });

  const download = createRoute({
    method: "get",
    path: "/api/jobs/{id}/file",
    summary: "download one file of the job (Range requests supported)",
    request: {
      params: JobIdParam,
      query: z.object({ path: z.string().min(1).describe("as listed by /files") }),
    },
    responses: {
      200: { description: "the file", content: { "application/octet-stream": { schema: z.string() } } },
      206: {
        description: "part of the file",
        content: { "application/octet-stream": { schema: z.string() } },
      },
      ...ERRORS,
    },
  });
  app.openapi(download, async (c) => {
    const job = await visibleJob(queue, c.get("user"), c.req.valid("param").id);
    const rel = c.req.valid("query").path;
    const path = safeJoin(data.jobDir(job.owner, job.id), rel, "file");
    if (!existsSync(path) || !statSync(path).isFile()) throw notFound("file", rel);
    const size = statSync(path).size;
    const range = parseRange(c.req.header("range"), size);
    if (range === "bad") {
      throw new ApiError(
        416 as 400,
        "BAD_RANGE",
        `range '${c.req.header("range")}' is outside the file (${size} bytes)`,
      );
    }
    const { start, end } = range ?? { start: 0, end: size - 1 };
    const headers = {
      "content-type": TYPES[extname(path).toLowerCase()] ?? "application/octet-stream",
      "content-length": String(size === 0 ? 0 : end - start + 1),
      "accept-ranges": "bytes",
      "content-disposition": `attachment; filename*=UTF-8''${encodeURIComponent(path.split("/").pop() ?? "file")}`,
      "x-content-type-options": "nosniff",
      ...(range ? { "content-range": `bytes ${start}-${end}/${size}` } : {}),
    };
    const body =
      size === 0 ? null : (Readable.toWeb(createReadStream(path, { start, end })) as ReadableStream);
    return new Response(body, { status: range ? 206 : 200, headers }) as never;
  });
}
