import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { createRoute, z } from "@hono/zod-openapi";
import { trainKeyTable } from "../../config/key-table.ts";
import { PRESETS, resolvePreset } from "../../config/presets/index.ts";
import { translatePreset } from "../../config/presets/zh.ts";
import type { App, AppDeps } from "../app.ts";
import { ERRORS, json } from "../schemas.ts";

/** Health, who am I, the job kinds with their params' JSON Schema, presets, the config schema, base models. */
export function registerMetaRoutes(app: App, deps: AppDeps): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/api/health",
      summary: "liveness (no token needed)",
      security: [],
      responses: { 200: { description: "ok", ...json(z.object({ ok: z.boolean(), backend: z.string() })) } },
    }),
    (c) => c.json({ ok: true, backend: deps.queue.backend }, 200),
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/me",
      summary: "the user the token belongs to",
      responses: {
        200: {
          description: "you",
          ...json(z.object({ id: z.string(), name: z.string(), role: z.enum(["admin", "user"]) })),
        },
        ...ERRORS,
      },
    }),
    (c) => {
      const user = c.get("user");
      return c.json({ id: user.id, name: user.name, role: user.role }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/kinds",
      summary: "every job kind: what it does (the CLI command it matches) and its params as JSON Schema",
      responses: {
        200: {
          description: "kinds",
          ...json(
            z.object({
              kinds: z.array(
                z.object({
                  name: z.string(),
                  summary: z.string(),
                  uses_engine: z.boolean(),
                  params: z.unknown(),
                }),
              ),
            }),
          ),
        },
        ...ERRORS,
      },
    }),
    (c) =>
      c.json(
        {
          kinds: Object.values(deps.kinds).map((kind) => ({
            name: kind.name,
            summary: kind.summary,
            uses_engine: kind.usesEngine,
            params: z.toJSONSchema(kind.params, { io: "input", unrepresentable: "any" }),
          })),
        },
        200,
      ),
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/presets",
      summary:
        "the training presets (danlu presets show): each setting with its value and reason; `zh` has the texts in Chinese",
      responses: {
        200: { description: "presets", ...json(z.object({ presets: z.array(z.unknown()) })) },
        ...ERRORS,
      },
    }),
    (c) => {
      const presets = Object.keys(PRESETS).map((name) => resolvePreset(name));
      return c.json({ presets: presets.map((preset) => ({ ...preset, zh: translatePreset(preset) })) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/config/schema",
      summary: "every training key with its default, type and description (danlu config show), for forms",
      responses: {
        200: {
          description: "keys",
          ...json(
            z.object({
              keys: z.array(
                z.object({
                  key: z.string(),
                  default: z.unknown(),
                  required: z.boolean(),
                  type: z.string(),
                  description: z.string(),
                  description_zh: z.string(),
                }),
              ),
            }),
          ),
        },
        ...ERRORS,
      },
    }),
    (c) =>
      c.json(
        {
          keys: trainKeyTable().map((row) => ({
            key: row.key,
            default: row.value ?? null,
            required: row.value === undefined,
            type: row.type,
            description: row.description,
            description_zh: row.descriptionZh,
          })),
        },
        200,
      ),
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/models",
      summary: "base models the admin put in DATA/models (name them in a job's params)",
      responses: {
        200: {
          description: "models",
          ...json(z.object({ models: z.array(z.object({ name: z.string(), bytes: z.number() })) })),
        },
        ...ERRORS,
      },
    }),
    (c) => {
      const models = readdirSync(deps.data.modelsDir)
        .filter((name) => !name.startsWith("."))
        .map((name) => ({ name, bytes: statSync(join(deps.data.modelsDir, name)).size }));
      return c.json({ models }, 200);
    },
  );
}
