// The service's figures (BENCHMARKS.md "Service"): enqueue-to-start latency per queue backend, API
// latency with many open event streams under a steady request rate, and upload throughput.
//   npx tsx bench/server/index.ts [--backend sqlite|bullmq|both] [--jobs 100] [--streams 200] [--rps 50] [--seconds 10] [--upload-mb 40]
import { mkdtempSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { serve } from "@hono/node-server";
import sharp from "sharp";
import { BullmqJobQueue } from "../../src/jobs/bullmq-queue.ts";
import { DataDir } from "../../src/jobs/data-dir.ts";
import { SqliteJobQueue } from "../../src/jobs/sqlite-queue.ts";
import { startRedis } from "../../src/jobs/test-redis.ts";
import type { JobQueue } from "../../src/jobs/types.ts";
import { startJobWorker } from "../../src/jobs/worker.ts";
import { createApp } from "../../src/server/app.ts";
import { TEST_KINDS } from "../../src/server/test-support.ts";
import { UserStore } from "../../src/server/users.ts";

const { values: args } = parseArgs({
  options: {
    backend: { type: "string", default: "both" },
    jobs: { type: "string", default: "100" },
    streams: { type: "string", default: "200" },
    rps: { type: "string", default: "50" },
    seconds: { type: "string", default: "10" },
    "upload-mb": { type: "string", default: "40" },
  },
});

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

const ms = (value: number) => `${value.toFixed(1)} ms`;

/** Enqueue one job, wait until its handler starts, repeat: the time a user waits for an idle worker. */
async function enqueueToStart(queue: JobQueue, data: DataDir, count: number): Promise<number[]> {
  const started = new Map<string, number>();
  const worker = queue.startWorker(
    async (ctx) => {
      started.set(ctx.job.id, performance.now());
      return {};
    },
    { workerId: "bench" },
  );
  const latencies: number[] = [];
  for (let i = 0; i < count; i += 1) {
    // arrive at a random moment of the worker's idle polling, as users do
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 300));
    const t0 = performance.now();
    const job = await queue.enqueue({ owner: "u_bench", kind: "echo", params: { text: "x" } });
    while (!started.has(job.id)) await new Promise((resolve) => setTimeout(resolve, 1));
    latencies.push(started.get(job.id)! - t0);
  }
  await worker.close();
  void data;
  return latencies;
}

async function apiUnderLoad(queue: JobQueue, data: DataDir, streams: number, rps: number, seconds: number) {
  const users = new UserStore(data.dbPath);
  const token = users.add(`bench${Date.now()}`, "user").token;
  const app = createApp({ data, queue, users, secret: Buffer.alloc(32, 1), kinds: TEST_KINDS });
  const server = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 });
  await new Promise((resolve) => server.once("listening", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
  const worker = startJobWorker(queue, { data, kinds: TEST_KINDS, workerId: "bench-load" });
  const job = (await (
    await fetch(`${url}/api/jobs`, {
      method: "POST",
      headers,
      body: JSON.stringify({ kind: "wait", params: {} }),
    })
  ).json()) as { id: string };
  const controllers: AbortController[] = [];
  for (let i = 0; i < streams; i += 1) {
    const controller = new AbortController();
    controllers.push(controller);
    void fetch(`${url}/api/jobs/${job.id}/events`, { headers, signal: controller.signal })
      .then(async (response) => {
        for await (const _chunk of response.body as unknown as AsyncIterable<Uint8Array>);
      })
      .catch(() => undefined);
  }
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const latencies: number[] = [];
  const pending: Promise<void>[] = [];
  const paths = [`/api/jobs/${job.id}`, "/api/jobs?limit=20", "/api/me"];
  for (let i = 0; i < rps * seconds; i += 1) {
    const due = i * (1000 / rps);
    pending.push(
      new Promise<void>((resolve) =>
        setTimeout(async () => {
          const t0 = performance.now();
          const response = await fetch(`${url}${paths[i % paths.length]}`, { headers });
          await response.arrayBuffer();
          latencies.push(performance.now() - t0);
          resolve();
        }, due),
      ),
    );
  }
  await Promise.all(pending);
  for (const controller of controllers) controller.abort();
  await fetch(`${url}/api/jobs/${job.id}/cancel`, { method: "POST", headers });
  await worker.close({ abort: true });
  server.close();
  users.close();
  return latencies;
}

async function uploadThroughput(
  data: DataDir,
  queue: JobQueue,
  megabytes: number,
): Promise<{ mb: number; seconds: number; images: number }> {
  const users = new UserStore(data.dbPath);
  const token = users.add(`up${Date.now()}`, "user").token;
  const app = createApp({ data, queue, users, secret: Buffer.alloc(32, 1), kinds: TEST_KINDS });
  const server = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 });
  await new Promise((resolve) => server.once("listening", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const headers = { authorization: `Bearer ${token}` };
  await fetch(`${url}/api/datasets`, {
    method: "POST",
    headers: { ...headers, "content-type": "application/json" },
    body: JSON.stringify({ name: "bench" }),
  });
  // noisy 1024x1024 PNGs (about 3 MB each): incompressible, like photos
  const noise = Buffer.alloc(1024 * 1024 * 3);
  const form = new FormData();
  let bytes = 0;
  let images = 0;
  while (bytes < megabytes * 1024 * 1024) {
    for (let i = 0; i < noise.length; i += 1) noise[i] = (Math.random() * 256) | 0;
    const png = await sharp(noise, { raw: { width: 1024, height: 1024, channels: 3 } })
      .png({ compressionLevel: 1 })
      .toBuffer();
    form.append("files", new Blob([png]), `img${images}.png`);
    bytes += png.length;
    images += 1;
  }
  const t0 = performance.now();
  const response = await fetch(`${url}/api/datasets/bench/upload`, { method: "POST", headers, body: form });
  await response.arrayBuffer();
  const seconds = (performance.now() - t0) / 1000;
  if (!response.ok) throw new Error(`upload answered ${response.status}`);
  server.close();
  users.close();
  return { mb: bytes / 1024 / 1024, seconds, images };
}

async function main(): Promise<void> {
  const backends = args.backend === "both" ? ["sqlite", "bullmq"] : [args.backend!];
  console.log(`node ${process.version}, ${new Date().toISOString().slice(0, 10)}`);
  for (const backend of backends) {
    const root = mkdtempSync(join(tmpdir(), "danlu-bench-"));
    const data = new DataDir(root).ensure();
    const redis = backend === "bullmq" ? await startRedis() : null;
    const open = (): JobQueue =>
      redis ? new BullmqJobQueue(redis.url, { prefix: `b${Date.now()}` }) : new SqliteJobQueue(data.dbPath);
    try {
      let queue = open();
      const start = await enqueueToStart(queue, data, Number(args.jobs));
      console.log(
        `${backend}: enqueue->start over ${start.length} jobs: p50 ${ms(percentile(start, 50))}, p99 ${ms(percentile(start, 99))}`,
      );
      await queue.close();
      queue = open();
      const api = await apiUnderLoad(
        queue,
        data,
        Number(args.streams),
        Number(args.rps),
        Number(args.seconds),
      );
      console.log(
        `${backend}: API with ${args.streams} open event streams at ${args.rps} req/s for ${args.seconds} s: ` +
          `p50 ${ms(percentile(api, 50))}, p99 ${ms(percentile(api, 99))} (${api.length} requests)`,
      );
      if (backend === backends[0]) {
        const up = await uploadThroughput(data, queue, Number(args["upload-mb"]));
        console.log(
          `upload: ${up.mb.toFixed(1)} MB in ${up.images} PNGs, imported in ${up.seconds.toFixed(2)} s: ${(up.mb / up.seconds).toFixed(1)} MB/s`,
        );
      }
      await queue.close();
    } finally {
      await redis?.stop();
      rmSync(root, { recursive: true, force: true });
    }
  }
}

await main();
