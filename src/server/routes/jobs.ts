import { createRoute, z } from "@hono/zod-openapi";
import { JOB_STATES, type JobState } from "../../jobs/types.ts";
import { visibleJob } from "../access.ts";
import type { App, AppDeps } from "../app.ts";
import { ApiError } from "../http-error.ts";
import { ERRORS, JobIdParam, JobSchema, jobView, json } from "../schemas.ts";

/** Users choose priorities up to this; admins up to 10 (higher runs first). */
const USER_MAX_PRIORITY = 5;

/** `{kind, params, priority}`: one variant per job kind, so the OpenAPI document lists every kind's params. */
function jobBodySchema(deps: AppDeps) {
  const priority = z
    .number()
    .int()
    .min(0)
    .max(10)
    .optional()
    .describe("0-10, higher first (users: at most 5)");
  const variants = Object.values(deps.kinds).map((kind) =>
    z.object({ kind: z.literal(kind.name).describe(kind.summary), params: kind.params, priority }).strict(),
  );
  if (variants.length === 0) return z.object({ kind: z.string(), params: z.record(z.string(), z.unknown()) });
  const [first, ...rest] = variants;
  return z.discriminatedUnion("kind", [first!, ...rest]).openapi("JobRequest");
}

const listQuery = z.object({
  state: z
    .string()
    .optional()
    .describe(`comma-separated: ${JOB_STATES.join(", ")}`),
  kind: z.string().optional(),
  all: z.enum(["0", "1"]).optional().describe("admins: every user's jobs"),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
});

function parseStates(text: string | undefined): JobState[] | undefined {
  if (!text) return undefined;
  const states = text.split(",").map((s) => s.trim());
  for (const state of states) {
    if (!(JOB_STATES as readonly string[]).includes(state)) {
      throw new ApiError(400, "BAD_REQUEST", `unknown state '${state}'`, {
        field: "state",
        hint: `one or more of ${JOB_STATES.join(", ")}`,
      });
    }
  }
  return states as JobState[];
}

export function registerJobRoutes(app: App, deps: AppDeps): void {
  const { queue } = deps;
  const create = createRoute({
    method: "post",
    path: "/api/jobs",
    summary: "queue a job: any CLI operation by kind (GET /api/kinds lists them)",
    request: { body: { ...json(jobBodySchema(deps)), required: true } },
    responses: { 201: { description: "queued", ...json(JobSchema) }, ...ERRORS },
  });
  app.openapi(create, async (c) => {
    const body = c.req.valid("json") as { kind: string; params: Record<string, unknown>; priority?: number };
    const user = c.get("user");
    if (body.priority !== undefined && body.priority > USER_MAX_PRIORITY && user.role !== "admin") {
      throw new ApiError(400, "BAD_REQUEST", `priority ${body.priority} is for admins`, {
        field: "priority",
        hint: `use 0-${USER_MAX_PRIORITY}`,
      });
    }
    const job = await queue.enqueue({
      owner: user.id,
      kind: body.kind,
      params: body.params,
      ...(body.priority !== undefined ? { priority: body.priority } : {}),
    });
    return c.json(jobView(job), 201);
  });

  const list = createRoute({
    method: "get",
    path: "/api/jobs",
    summary: "your jobs, newest first (filters: state, kind)",
    request: { query: listQuery },
    responses: { 200: { description: "jobs", ...json(z.object({ jobs: z.array(JobSchema) })) }, ...ERRORS },
  });
  app.openapi(list, async (c) => {
    const query = c.req.valid("query");
    const user = c.get("user");
    const everyone = query.all === "1" && user.role === "admin";
    const states = parseStates(query.state);
    const jobs = await queue.list({
      ...(everyone ? {} : { owner: user.id }),
      ...(states ? { states } : {}),
      ...(query.kind ? { kind: query.kind } : {}),
      ...(query.limit ? { limit: query.limit } : {}),
    });
    return c.json({ jobs: jobs.map((job) => jobView(job)) }, 200);
  });

  const getOne = createRoute({
    method: "get",
    path: "/api/jobs/{id}",
    summary: "one job: state, stage, progress, timings, result or error with its hint",
    request: { params: JobIdParam },
    responses: { 200: { description: "the job", ...json(JobSchema) }, ...ERRORS },
  });
  app.openapi(getOne, async (c) => {
    const job = await visibleJob(queue, c.get("user"), c.req.valid("param").id);
    return c.json(jobView(job), 200);
  });

  const cancel = createRoute({
    method: "post",
    path: "/api/jobs/{id}/cancel",
    summary:
      "cancel: a queued job at once; a running one within seconds (a training saves a resumable state)",
    request: { params: JobIdParam },
    responses: { 202: { description: "cancelled or cancelling", ...json(JobSchema) }, ...ERRORS },
  });
  app.openapi(cancel, async (c) => {
    const job = await visibleJob(queue, c.get("user"), c.req.valid("param").id);
    const after = (await queue.cancel(job.id)) ?? job;
    return c.json(jobView(after), 202);
  });

  const resume = createRoute({
    method: "post",
    path: "/api/jobs/{id}/resume",
    summary: "queue a failed or cancelled job again; a training continues from its last saved state",
    request: { params: JobIdParam },
    responses: {
      202: { description: "queued again", ...json(JobSchema) },
      409: { description: "not failed or cancelled", ...json(z.unknown()) },
      ...ERRORS,
    },
  });
  app.openapi(resume, async (c) => {
    const job = await visibleJob(queue, c.get("user"), c.req.valid("param").id);
    if (job.state !== "failed" && job.state !== "cancelled") {
      throw new ApiError(
        409,
        "CONFLICT",
        `job '${job.id}' is ${job.state}; only failed or cancelled jobs resume`,
      );
    }
    const after = await queue.requeue(job.id);
    if (!after) throw new ApiError(404, "NOT_FOUND", `job '${job.id}' not found`);
    return c.json(jobView(after), 202);
  });
}
