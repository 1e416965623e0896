import { OpenAPIHono } from "@hono/zod-openapi";
import type { DataDir } from "../jobs/data-dir.ts";
import type { JobKind } from "../jobs/kinds/types.ts";
import type { JobQueue } from "../jobs/types.ts";
import { authMiddleware, type AuthVariables } from "./auth.ts";
import { errorResponse, validationError } from "./http-error.ts";
import { DEFAULT_LIMITS, type ServerLimits } from "./limits.ts";
import { registerArtifactRoutes } from "./routes/artifacts.ts";
import { registerDatasetRoutes } from "./routes/datasets.ts";
import { registerEventRoutes } from "./routes/events.ts";
import { registerJobRoutes } from "./routes/jobs.ts";
import { registerMetaRoutes } from "./routes/meta.ts";
import { registerPortraitRoutes } from "./routes/portraits.ts";
import { registerTrainRoutes } from "./routes/train.ts";
import type { UserStore } from "./users.ts";
import { registerWebRoutes } from "./web.ts";

/** What the routes use; built once by `startServer` (or a test) and passed in, never global. */
export interface AppDeps {
  data: DataDir;
  queue: JobQueue;
  users: UserStore;
  /** HMAC key for event-stream tokens (auth.ts loadSecret). */
  secret: Buffer;
  kinds: Record<string, JobKind>;
  limits: ServerLimits;
  /** The built web UI served at `/`. @defaultValue web/dist in the checkout */
  webRoot?: string;
}

export type AppEnv = { Variables: AuthVariables };
export type App = OpenAPIHono<AppEnv>;

/** The HTTP API: every route behind the token check, one error shape, the OpenAPI document from the schemas. */
export function createApp(input: Omit<AppDeps, "limits"> & { limits?: Partial<ServerLimits> }): App {
  const deps: AppDeps = { ...input, limits: { ...DEFAULT_LIMITS, ...input.limits } };
  const app: App = new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success)
        throw validationError(
          result.error.issues,
          result.target === "json" ? "request body" : `request ${result.target}`,
        );
    },
  });
  app.onError(errorResponse);
  app.notFound((c) =>
    c.json({ error: { code: "NOT_FOUND", message: `no route ${c.req.method} ${c.req.path}` } }, 404),
  );
  app.use("/api/*", authMiddleware(deps.users, deps.secret));
  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", { type: "http", scheme: "bearer" });
  registerMetaRoutes(app, deps);
  registerJobRoutes(app, deps);
  registerEventRoutes(app, deps);
  registerArtifactRoutes(app, deps);
  registerDatasetRoutes(app, deps);
  registerTrainRoutes(app, deps);
  registerPortraitRoutes(app, deps);
  app.doc31("/api/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "danlu",
      version: "0.1.0",
      description:
        "丹炉 danlu as a service: datasets, jobs (every CLI operation as a job kind), live events, artifacts. " +
        "Every route but /api/health needs 'Authorization: Bearer <token>' (danlu users add NAME).",
    },
    security: [{ bearer: [] }],
  });
  registerWebRoutes(app, deps.webRoot); // last: its catch-all serves the UI's index.html
  return app;
}
