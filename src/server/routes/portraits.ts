import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { createRoute, z } from "@hono/zod-openapi";
import { DanluError } from "../../errors.ts";
import { portraitParams } from "../../jobs/kinds/portrait.ts";
import { userPaths } from "../../jobs/user-paths.ts";
import { loadStyles, type Style } from "../../portrait/styles.ts";
import type { App, AppDeps } from "../app.ts";
import { TOO_LARGE_ERROR } from "../datasets/common.ts";
import { multipartBody, uploadLimitsText, uploadToDataset, UploadReportSchema } from "../datasets/upload.ts";
import { ApiError, validationError } from "../http-error.ts";
import { ERRORS, ErrorSchema, JobSchema, jobView, json } from "../schemas.ts";

/**
 * The portrait service in one call: the customer's photos and the portrait params in one multipart
 * request; a new dataset for the photos (through the dataset upload's own import) and a queued portrait job.
 */

const PARAMS_FIELD = "params";
const bodyParams = portraitParams.omit({ dataset: true });
type BodyParams = z.infer<typeof bodyParams>;

const StyleSchema = z
  .object({
    name: z.string().describe("what params.styles names it by"),
    title: z.string(),
    title_zh: z.string(),
    width: z.number().int(),
    height: z.number().int(),
    sampler: z.string(),
    steps: z.number().int(),
  })
  .openapi("PortraitStyle");

const PortraitCreatedSchema = z
  .object({
    job: JobSchema,
    dataset: z.string().describe("the new dataset holding the photos"),
    upload: UploadReportSchema,
  })
  .openapi("PortraitCreated");

/** The shipped styles plus the user's DATA/users/ID/styles templates, as the portrait job loads them. */
function userStyles(deps: AppDeps, userId: string): Promise<Map<string, Style>> {
  const dir = join(deps.data.userDir(userId), "styles");
  return loadStyles(existsSync(dir) ? { userDir: dir } : {});
}

/** `portrait-20250101-120000-a1b2`: the time of the upload (UTC) and a random tail. */
function datasetName(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/gu, "").replace("T", "-").slice(0, 15);
  return `portrait-${stamp}-${randomBytes(2).toString("hex")}`;
}

/** The `params` field read and checked: a 400 names `params.FIELD`; unknown styles and models too. */
async function checkParams(deps: AppDeps, userId: string, text: string | undefined): Promise<BodyParams> {
  let raw: unknown;
  try {
    raw = JSON.parse(text ?? "{}");
  } catch (error) {
    throw new ApiError(400, "BAD_REQUEST", `form field 'params' is not JSON: ${(error as Error).message}`, {
      field: PARAMS_FIELD,
      hint: 'send the portrait params as JSON, e.g. {"model": "sd15.safetensors"}',
    });
  }
  const parsed = bodyParams.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => ({ ...issue, path: [PARAMS_FIELD, ...issue.path] }));
    throw validationError(issues, "multipart request");
  }
  const params = parsed.data;
  try {
    userPaths(deps.data, userId).model(params.model);
  } catch (error) {
    if (!(error instanceof DanluError)) throw error;
    throw new ApiError(400, "BAD_REQUEST", `no base model '${params.model}'`, {
      field: "params.model",
      hint: "GET /api/models lists the models",
    });
  }
  if (params.styles) {
    const known = await userStyles(deps, userId);
    const unknown = params.styles.filter((name) => !known.has(name));
    if (unknown.length > 0) {
      throw new ApiError(400, "BAD_REQUEST", `unknown style '${unknown.join("', '")}'`, {
        field: "params.styles",
        hint: `styles: ${[...known.keys()].join(", ")}`,
      });
    }
  }
  if (params.candidates < params.count) {
    throw new ApiError(400, "BAD_REQUEST", "params.candidates is less than params.count", {
      field: "params.candidates",
      hint: "generate at least as many candidates per style as portraits kept",
    });
  }
  return params;
}

export function registerPortraitRoutes(app: App, deps: AppDeps): void {
  const create = createRoute({
    method: "post",
    path: "/api/portraits",
    summary:
      "selfies in, portraits out: the photos (multipart 'files' parts, as a dataset upload takes them) go " +
      "into a new dataset, and a portrait job is queued with the JSON 'params' field (the portrait kind's " +
      "params without dataset)",
    description: uploadLimitsText(deps.limits),
    request: {
      body: multipartBody({
        [PARAMS_FIELD]: {
          type: "string",
          description: 'JSON: the portrait params without dataset, e.g. {"model":"sd15.safetensors"}',
        },
      }),
    },
    responses: {
      201: {
        description: "the dataset made, its upload report and the queued job",
        ...json(PortraitCreatedSchema),
      },
      ...ERRORS,
      ...TOO_LARGE_ERROR,
      415: { description: "not multipart/form-data", ...json(ErrorSchema) },
    },
  });
  app.openapi(create, async (c) => {
    const userId = c.get("user").id;
    let params: BodyParams | undefined;
    let created: string | undefined;
    try {
      const { report } = await uploadToDataset(c.req.raw, deps, userId, {
        textFields: [PARAMS_FIELD],
        target: async (fields) => {
          params = await checkParams(deps, userId, fields[PARAMS_FIELD]);
          const name = datasetName();
          await mkdir(deps.data.datasetsDir(userId), { recursive: true });
          await mkdir(join(deps.data.datasetsDir(userId), name));
          created = name;
          return name;
        },
      });
      const job = await deps.queue.enqueue({
        owner: userId,
        kind: "portrait",
        params: { ...params, dataset: report.dataset },
      });
      return c.json({ job: jobView(job), dataset: report.dataset, upload: report }, 201);
    } catch (error) {
      // the photos' dataset goes with a failed request: nothing half-made is left behind
      if (created !== undefined) {
        await rm(deps.data.datasetDir(userId, created), { recursive: true, force: true });
      }
      throw error;
    }
  });

  const styles = createRoute({
    method: "get",
    path: "/api/portraits/styles",
    summary: "the portrait styles: the shipped ones and yours (DATA/users/ID/styles/*.toml)",
    responses: {
      200: { description: "styles", ...json(z.object({ styles: z.array(StyleSchema) })) },
      ...ERRORS,
    },
  });
  app.openapi(styles, async (c) => {
    const all = await userStyles(deps, c.get("user").id);
    const list = [...all.values()].map((style) => ({
      name: style.name,
      title: style.title,
      title_zh: style.titleZh,
      width: style.width,
      height: style.height,
      sampler: style.sampler,
      steps: style.steps,
    }));
    return c.json({ styles: list }, 200);
  });
}
