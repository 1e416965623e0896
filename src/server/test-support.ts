import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { DataDir } from "../jobs/data-dir.ts";
import type { JobKind } from "../jobs/kinds/types.ts";
import { SqliteJobQueue } from "../jobs/sqlite-queue.ts";
import { JobCancelledError, type JobQueue } from "../jobs/types.ts";
import { createApp, type App } from "./app.ts";
import type { ServerLimits } from "./limits.ts";
import { UserStore } from "./users.ts";
import { writeFileSync } from "node:fs";

/** Kinds for API tests: quick, with files and events, so the routes are tested without the engine. */
export const TEST_KINDS: Record<string, JobKind> = {
  echo: {
    name: "echo",
    summary: "writes its text to out.txt and reports three steps (a test kind)",
    usesEngine: false,
    params: z.strictObject({ text: z.string().describe("what to write"), fail: z.boolean().optional() }),
    async run(params, ctx) {
      ctx.stage("writing");
      for (let step = 1; step <= 3; step += 1) ctx.progress(step, 3);
      writeFileSync(join(ctx.runDir, "out.txt"), String(params.text));
      ctx.log("wrote out.txt");
      if (params.fail)
        throw new (await import("../errors.ts")).DanluError("asked to fail", {
          code: "ASKED",
          hint: "do not ask",
        });
      return { file: "out.txt" };
    },
  },
  paths: {
    name: "paths",
    summary: "returns and fails with server paths (a test kind)",
    usesEngine: false,
    params: z.strictObject({ fail: z.boolean() }),
    async run(params, ctx) {
      const file = join(ctx.runDir, "out.txt");
      ctx.log(`wrote ${file}`);
      if (params.fail) {
        const { DanluError } = await import("../errors.ts");
        throw new DanluError(`cannot read ${file}`, { code: "BAD", hint: `look in ${ctx.data.root}/models` });
      }
      return { file, models: ctx.data.modelsDir };
    },
  },
  wait: {
    name: "wait",
    summary: "waits until cancelled (a test kind)",
    usesEngine: false,
    params: z.strictObject({}),
    async run(_params, ctx) {
      ctx.stage("waiting");
      await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve, { once: true }));
      throw new JobCancelledError();
    },
  },
};

export interface TestServer {
  app: App;
  data: DataDir;
  queue: JobQueue;
  users: UserStore;
  token(name: string, role?: "admin" | "user"): string;
  close(): Promise<void>;
}

/** The real app over a real SQLite file in a temp folder. */
export function testServer(
  options: { kinds?: Record<string, JobKind>; limits?: Partial<ServerLimits> } = {},
): TestServer {
  const root = mkdtempSync(join(tmpdir(), "danlu-api-"));
  const data = new DataDir(root).ensure();
  const queue = new SqliteJobQueue(data.dbPath);
  const users = new UserStore(data.dbPath);
  const app = createApp({
    data,
    queue,
    users,
    secret: Buffer.alloc(32, 7),
    kinds: options.kinds ?? TEST_KINDS,
    ...(options.limits ? { limits: options.limits } : {}),
  });
  return {
    app,
    data,
    queue,
    users,
    token: (name, role = "user") => users.add(name, role).token,
    async close() {
      await queue.close();
      users.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

export function bearer(token: string, init: RequestInit = {}): RequestInit {
  return {
    ...init,
    headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${token}` },
  };
}

export function postJson(token: string, body: unknown): RequestInit {
  return bearer(token, {
    method: "POST",
    body: JSON.stringify(body),
    headers: { "content-type": "application/json" },
  });
}

/** Parses a text/event-stream body into events. */
export function parseSse(text: string): { id?: string; event: string; data: unknown }[] {
  return text
    .split("\n\n")
    .filter((block) => block.trim() && !block.startsWith(":"))
    .map((block) => {
      const fields: Record<string, string> = {};
      for (const line of block.split("\n")) {
        const at = line.indexOf(": ");
        if (at > 0) fields[line.slice(0, at)] = line.slice(at + 2);
      }
      return {
        ...(fields.id ? { id: fields.id } : {}),
        event: fields.event ?? "message",
        data: JSON.parse(fields.data ?? "null"),
      };
    });
}
