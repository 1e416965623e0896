import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRoute, z } from "@hono/zod-openapi";
import { kohyaConfigText } from "../../config/kohya-export.ts";
import { loadKohyaConfig } from "../../config/kohya.ts";
import { planTrain, PATH_KEYS, trainParams, type TrainParams } from "../../jobs/kinds/train.ts";
import type { KindContext } from "../../jobs/kinds/types.ts";
import { userPaths } from "../../jobs/user-paths.ts";
import type { App, AppDeps } from "../app.ts";
import { ERRORS, json } from "../schemas.ts";
import type { User } from "../users.ts";

/** A train job's context without a job: a scratch folder, warnings collected, no engine. */
function planningContext(deps: AppDeps, user: User, dir: string, notes: string[]): KindContext {
  return {
    userId: user.id,
    jobId: "plan",
    attempt: 1,
    data: deps.data,
    runDir: dir,
    signal: new AbortController().signal,
    paths: userPaths(deps.data, user.id),
    stage: () => undefined,
    progress: () => undefined,
    engineEvent: () => undefined,
    log: (message) => notes.push(message),
  };
}

async function withPlan<T>(
  deps: AppDeps,
  user: User,
  params: TrainParams,
  use: (plan: Awaited<ReturnType<typeof planTrain>>, notes: string[]) => T,
): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), "danlu-plan-"));
  const notes: string[] = [];
  try {
    return use(await planTrain(params, planningContext(deps, user, dir, notes)), notes);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The train form's helpers: the plan before starting, and sd-scripts config import/export. */
export function registerTrainRoutes(app: App, deps: AppDeps): void {
  const PlanSchema = z.object({
    report: z.string().describe("the plan as `danlu train --dry-run` prints it"),
    warnings: z.array(z.string()),
    total_steps: z.number().int(),
    epochs: z.number().int(),
    arch: z.string(),
    details: z.object({
      subsets: z.array(z.object({ name: z.string(), images: z.number().int(), repeats: z.number().int() })),
      reg_images: z.number().int().describe("regularization images x their repeats"),
      images_per_epoch: z.number().int().describe("training images x repeats"),
      batch_size: z.number().int(),
      gradient_accumulation_steps: z.number().int(),
      steps_per_epoch: z.number().int(),
      buckets: z.array(
        z.object({ width: z.number().int(), height: z.number().int(), count: z.number().int() }),
      ),
      save_every_n_epochs: z.number().int(),
      save_every_n_steps: z.number().int(),
    }),
  });
  app.openapi(
    createRoute({
      method: "post",
      path: "/api/train/plan",
      summary:
        "what a train job with these params would do (images x repeats x epochs / batch, buckets, saves)",
      request: { body: { ...json(trainParams), required: true } },
      responses: { 200: { description: "the plan", ...json(PlanSchema) }, ...ERRORS },
    }),
    async (c) => {
      const params = c.req.valid("json") as TrainParams;
      const body = await withPlan(deps, c.get("user"), params, (plan, notes) => ({
        report: plan.report,
        warnings: [...notes, ...plan.warnings],
        total_steps: plan.total_steps,
        epochs: plan.epochs,
        arch: plan.arch,
        details: plan.details,
      }));
      return c.json(body, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/api/train/kohya-export",
      summary: "these params as an sd-scripts config TOML (paths shown as your dataset and model names)",
      request: { body: { ...json(trainParams), required: true } },
      responses: { 200: { description: "TOML", ...json(z.object({ toml: z.string() })) }, ...ERRORS },
    }),
    async (c) => {
      const params = c.req.valid("json") as TrainParams;
      const toml = await withPlan(deps, c.get("user"), params, (plan) => {
        const text = kohyaConfigText(plan.config, { arch: plan.arch, totalSteps: plan.total_steps });
        return text
          .replaceAll(plan.config.train_data_dir ?? "\0", params.dataset)
          .replaceAll(plan.config.pretrained_model_name_or_path, params.model)
          .replaceAll(plan.config.output_dir, "output");
      });
      return c.json({ toml }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/api/train/kohya-import",
      summary: "an sd-scripts / kohya_ss config TOML read into danlu settings (for a train job's config)",
      request: { body: { ...json(z.strictObject({ toml: z.string().max(1_000_000) })), required: true } },
      responses: {
        200: {
          description: "settings",
          ...json(z.object({ config: z.record(z.string(), z.unknown()), warnings: z.array(z.string()) })),
        },
        ...ERRORS,
      },
    }),
    async (c) => {
      const dir = mkdtempSync(join(tmpdir(), "danlu-kohya-"));
      try {
        const file = join(dir, "config.toml");
        writeFileSync(file, (c.req.valid("json") as { toml: string }).toml);
        const imported = await loadKohyaConfig(file);
        const config: Record<string, unknown> = {};
        const warnings = imported.warnings.map((line) => line.replaceAll(dir + "/", ""));
        for (const [key, value] of Object.entries(imported.config)) {
          if (PATH_KEYS.includes(key))
            warnings.push(`${key} left out: a job names its dataset and model instead`);
          else config[key] = value;
        }
        return c.json({ config, warnings }, 200);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
}
