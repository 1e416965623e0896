import { z } from "@hono/zod-openapi";
import { JOB_STATES, type JobRecord } from "../jobs/types.ts";

/** A JSON body or response with this schema, as createRoute takes it. */
export const json = <T extends z.ZodType>(schema: T) => ({ content: { "application/json": { schema } } });

export const ErrorSchema = z
  .object({
    error: z.object({
      code: z
        .string()
        .describe("machine-readable: NOT_FOUND, BAD_REQUEST, UNAUTHORIZED, TOO_LARGE, or a library code"),
      message: z.string(),
      hint: z.string().optional().describe("what to do about it"),
      field: z.string().optional().describe("the request field at fault, dotted"),
    }),
  })
  .openapi("Error");

/** The error responses every authenticated route may give. */
export const ERRORS = {
  400: {
    description: "bad request (the field is named)",
    content: { "application/json": { schema: ErrorSchema } },
  },
  401: { description: "no token or a bad one", content: { "application/json": { schema: ErrorSchema } } },
  404: {
    description: "not found (or another user's)",
    content: { "application/json": { schema: ErrorSchema } },
  },
} as const;

export const JobIdParam = z.object({
  id: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/)
    .openapi({ param: { name: "id", in: "path" }, example: "j_0123456789abcdef" }),
});

export const JobSchema = z
  .object({
    id: z.string(),
    owner: z.string().describe("user id"),
    kind: z.string(),
    params: z.record(z.string(), z.unknown()),
    state: z.enum(JOB_STATES),
    stage: z.string().nullable().describe("the named stage it is in (from progress)"),
    priority: z.number().int(),
    attempts: z.number().int(),
    max_attempts: z.number().int(),
    progress: z
      .object({
        stage: z.string(),
        step: z.number().optional(),
        total: z.number().optional(),
        detail: z.record(z.string(), z.union([z.number(), z.string()])).optional(),
      })
      .nullable(),
    result: z.unknown(),
    error: z.object({ code: z.string(), message: z.string(), hint: z.string().optional() }).nullable(),
    cancel_requested: z.boolean(),
    created_at: z.string().describe("ISO time"),
    started_at: z.string().nullable(),
    finished_at: z.string().nullable(),
    timings: z.object({
      wait_s: z.number().nullable().describe("queued to started"),
      run_s: z.number().nullable().describe("started to finished (or now)"),
    }),
  })
  .openapi("Job");
export type JobView = z.infer<typeof JobSchema>;

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export function jobView(job: JobRecord, now = Date.now()): JobView {
  return {
    id: job.id,
    owner: job.owner,
    kind: job.kind,
    params: job.params,
    state: job.state,
    stage: job.progress?.stage ?? null,
    priority: job.priority,
    attempts: job.attempts,
    max_attempts: job.maxAttempts,
    progress: job.progress,
    result: job.result ?? null,
    error: job.error,
    cancel_requested: job.cancelRequested,
    created_at: new Date(job.createdAt).toISOString(),
    started_at: iso(job.startedAt),
    finished_at: iso(job.finishedAt),
    timings: {
      wait_s: job.startedAt === null ? null : (job.startedAt - job.createdAt) / 1000,
      run_s: job.startedAt === null ? null : ((job.finishedAt ?? now) - job.startedAt) / 1000,
    },
  };
}
