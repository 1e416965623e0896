import { existsSync, readFileSync } from "node:fs";
import { extname, join } from "node:path";
import { serveStatic } from "@hono/node-server/serve-static";
import type { App } from "./app.ts";
import { REPO_ROOT } from "../engine/python.ts";

/** Where `npm run setup` builds the web UI (Vite). */
export const WEB_DIST = join(REPO_ROOT, "web", "dist");

const CSP = [
  "default-src 'self'",
  "img-src 'self' blob: data:",
  "style-src 'self' 'unsafe-inline'", // uPlot and the gallery size elements with style attributes
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join("; ");

const NOT_BUILT = `<!doctype html><meta charset="utf-8"><title>danlu</title>
<p>The web UI is not built yet: run <code>npm run setup</code> in the danlu checkout, then reload.
The API is at <a href="/api/health">/api/health</a>.</p>`;

/**
 * The browser UI at `/`: the built files, and index.html for every other non-API path (the UI routes
 * in the browser). Static files need no token; everything they show comes from the API, which does.
 */
export function registerWebRoutes(app: App, webRoot: string = WEB_DIST): void {
  app.use("/*", async (c, next) => {
    await next();
    if (!c.req.path.startsWith("/api/")) {
      c.header("content-security-policy", CSP);
      c.header("x-content-type-options", "nosniff");
      c.header("referrer-policy", "no-referrer");
    }
  });
  app.use(
    "/assets/*",
    serveStatic({
      root: webRoot,
      onFound: (_path, c) => c.header("cache-control", "public, max-age=31536000, immutable"),
    }),
  );
  app.get("/*", (c) => {
    if (c.req.path.startsWith("/api/")) return c.notFound();
    const index = join(webRoot, "index.html");
    if (extname(c.req.path) !== "" && c.req.path !== "/index.html") return c.notFound();
    if (!existsSync(index)) return c.html(NOT_BUILT, 503);
    c.header("cache-control", "no-cache");
    return c.html(readFileSync(index, "utf8"));
  });
}
