import type { AddressInfo } from "node:net";
import { serve, type ServerType } from "@hono/node-server";
import { DataDir } from "../jobs/data-dir.ts";
import { JOB_KINDS } from "../jobs/kinds/index.ts";
import { openQueue } from "../jobs/open-queue.ts";
import { createApp } from "./app.ts";
import { loadSecret } from "./auth.ts";
import type { ServerLimits } from "./limits.ts";
import { countGpus, LocalWorkers } from "./local-workers.ts";
import { UserStore } from "./users.ts";

export interface ServeOptions {
  /** The data directory (created when missing). */
  data: string;
  /** @defaultValue "127.0.0.1": only this machine, unless told otherwise */
  host: string;
  /** 0 picks a free port. @defaultValue 7860 */
  port: number;
  /** BullMQ on this Redis instead of the embedded SQLite queue. */
  redis?: string | null;
  /** Local worker processes: "auto" = one per GPU (one CPU worker without one); 0 = API only. */
  workers: number | "auto";
  limits?: Partial<ServerLimits>;
  onLine?: (line: string) => void;
}

export interface RunningServer {
  url: string;
  close(): Promise<void>;
}

/** One worker per GPU (one job per GPU at a time), one CPU worker without a GPU, or the number asked for. */
function workerSlots(workers: number | "auto"): (number | "cpu")[] {
  const gpus = countGpus();
  const count = workers === "auto" ? Math.max(1, gpus) : workers;
  return Array.from({ length: count }, (_, i) => (i < gpus ? i : "cpu"));
}

/** `danlu serve`: the API, the queue (reconciled first) and the local workers. */
export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const data = new DataDir(options.data).ensure();
  const users = new UserStore(data.dbPath);
  const queue = openQueue(data, options.redis);
  const requeued = await queue.reconcile();
  if (requeued > 0)
    options.onLine?.(`reconciled: ${requeued} job(s) whose worker was gone went back to the queue`);
  const app = createApp({
    data,
    queue,
    users,
    secret: loadSecret(data.root),
    kinds: JOB_KINDS,
    ...(options.limits ? { limits: options.limits } : {}),
  });
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: options.host, port: options.port }, () => resolve(s));
  });
  const port = (server.address() as AddressInfo).port;
  const workers = new LocalWorkers({
    dataRoot: data.root,
    redisUrl: options.redis ?? null,
    slots: workerSlots(options.workers),
    ...(options.onLine ? { onLine: options.onLine } : {}),
  });
  workers.start();
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;
  return {
    url: `http://${host}:${port}`,
    async close() {
      await workers.stop();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await queue.close();
      users.close();
    },
  };
}
