// The JobQueue contract, run against both backends: a real SQLite file and a real redis-server.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { DanluError } from "../errors.ts";
import { BACKENDS, TestBackend, sleep, spawnFaultWorker, stopFaultWorker, waitFor } from "./test-queues.ts";
import type { FaultWorker } from "./test-queues.ts";
import {
  JobCancelledError,
  type JobHandler,
  type JobQueue,
  type JobState,
  type WorkerOptions,
} from "./types.ts";

/** Short polls; leases long enough that a busy test machine does not lose one. */
const FAST: Omit<WorkerOptions, "workerId"> = {
  leaseMs: 3000,
  pollMs: 20,
  cancelPollMs: 100,
  backoffMs: 100,
};

/** The worker that dies holds 1 s leases, so its jobs are free again about a second later. */
const DOOMED_LEASE_MS = 1000;

const untilAborted = (signal: AbortSignal) =>
  new Promise<never>((_, reject) => signal.addEventListener("abort", () => reject(new JobCancelledError())));

describe.each(BACKENDS)("JobQueue on %s", (backend) => {
  const env = new TestBackend(backend);
  const children: FaultWorker[] = [];
  let queue: JobQueue;

  beforeAll(() => env.start());
  afterAll(() => env.stop());
  afterEach(async () => {
    await Promise.all(children.splice(0).map((child) => stopFaultWorker(child)));
    await env.closeAll();
  });
  const fresh = () => (queue = env.open(env.newTarget()));

  const waitState = (id: string, state: JobState, timeoutMs = 10_000) =>
    waitFor(
      `job ${id} to be ${state}`,
      async () => {
        const job = await queue.get(id);
        return job?.state === state ? job : null;
      },
      timeoutMs,
    );

  it("enqueues, gets and lists with filters, newest first; checks its inputs and options", async () => {
    fresh();
    const a1 = await queue.enqueue({ owner: "ann", kind: "train", params: { steps: 10 } });
    await sleep(3);
    const b1 = await queue.enqueue({ owner: "bob", kind: "tag", params: {}, priority: 9, maxAttempts: 1 });
    await sleep(3);
    const a2 = await queue.enqueue({ owner: "ann", kind: "tag", params: { n: 1 } });
    expect(a1).toMatchObject({ owner: "ann", kind: "train", params: { steps: 10 }, state: "queued" });
    expect(a1).toMatchObject({ priority: 5, attempts: 0, maxAttempts: 3, progress: null, result: null });
    expect(a1).toMatchObject({ error: null, workerId: null, cancelRequested: false, startedAt: null });
    expect(a1.id).toMatch(/^[A-Za-z0-9-]+$/);
    expect(new Set([a1.id, b1.id, a2.id]).size).toBe(3);
    expect(await queue.get(a1.id)).toEqual(a1);
    expect(await queue.get("j-nothing")).toBeNull();

    const ids = async (filter: Parameters<JobQueue["list"]>[0]) =>
      (await queue.list(filter)).map((job) => job.id);
    expect(await ids({})).toEqual([a2.id, b1.id, a1.id]);
    expect(await ids({ owner: "ann" })).toEqual([a2.id, a1.id]);
    expect(await ids({ kind: "tag" })).toEqual([a2.id, b1.id]);
    expect(await ids({ owner: "ann", kind: "tag", states: ["queued"] })).toEqual([a2.id]);
    expect(await ids({ states: ["running", "succeeded"] })).toEqual([]);
    expect(await ids({ limit: 2 })).toEqual([a2.id, b1.id]);

    await expect(queue.enqueue({ owner: "ann", kind: "x", params: {}, priority: 11 })).rejects.toThrow(
      DanluError,
    );
    await expect(queue.list({ limit: 1001 })).rejects.toThrow(/limit must be an integer from 1 to 1000/);
    const bad = () => queue.startWorker(async () => null, { workerId: "w", leaseMs: 10 });
    expect(bad).toThrow(/leaseMs must be an integer from 1000 to 600000/);
    expect(bad).toThrow(expect.objectContaining({ code: "INVALID_OPTION" }));
  });

  it("runs the highest priority first, then the oldest", async () => {
    fresh();
    const low = await queue.enqueue({ owner: "a", kind: "k", params: {}, priority: 1 });
    const first5 = await queue.enqueue({ owner: "b", kind: "k", params: {}, priority: 5 });
    const high = await queue.enqueue({ owner: "c", kind: "k", params: {}, priority: 9 });
    const second5 = await queue.enqueue({ owner: "d", kind: "k", params: {}, priority: 5 });
    const order: string[] = [];
    queue.startWorker(async ({ job }) => void order.push(job.id), { workerId: "w", ...FAST });
    await waitState(low.id, "succeeded");
    expect(order).toEqual([high.id, first5.id, second5.id, low.id]);
  });

  it("never runs more of one user's jobs at once than maxRunningPerUser; other users go ahead", async () => {
    fresh();
    const running = new Map<string, number>();
    const peak = new Map<string, number>();
    let bobStartedWhileAnnBusy = false;
    const handler: JobHandler = async ({ job }) => {
      running.set(job.owner, (running.get(job.owner) ?? 0) + 1);
      peak.set(job.owner, Math.max(peak.get(job.owner) ?? 0, running.get(job.owner)!));
      if (job.owner === "bob" && (running.get("ann") ?? 0) > 0) bobStartedWhileAnnBusy = true;
      await sleep(300);
      running.set(job.owner, running.get(job.owner)! - 1);
    };
    const ann = [];
    for (let i = 0; i < 5; i++) ann.push(await queue.enqueue({ owner: "ann", kind: "k", params: {} }));
    const bob = await queue.enqueue({ owner: "bob", kind: "k", params: {} });
    queue.startWorker(handler, { workerId: "w1", concurrency: 3, maxRunningPerUser: 2, ...FAST });
    queue.startWorker(handler, { workerId: "w2", concurrency: 3, maxRunningPerUser: 2, ...FAST });
    for (const job of [...ann, bob]) await waitState(job.id, "succeeded");
    expect(peak.get("ann")).toBe(2);
    expect(bobStartedWhileAnnBusy).toBe(true);
  });

  it("records a success, its result and progress once", async () => {
    fresh();
    const job = await queue.enqueue({ owner: "ann", kind: "k", params: { x: 1 } });
    const calls: unknown[] = [];
    queue.startWorker(
      async (ctx) => {
        calls.push({ attempts: ctx.job.attempts, workerId: ctx.job.workerId, state: ctx.job.state });
        await ctx.reportProgress({ stage: "work", step: 2, total: 2, detail: { loss: 0.5 } });
        return { answer: 42 };
      },
      { workerId: "w1", ...FAST },
    );
    const done = await waitState(job.id, "succeeded");
    await sleep(300);
    expect(calls).toEqual([{ attempts: 1, workerId: "w1", state: "running" }]);
    expect(await queue.get(job.id)).toEqual(done);
    expect(done).toMatchObject({ result: { answer: 42 }, error: null, attempts: 1, workerId: "w1" });
    expect(done.progress).toEqual({ stage: "work", step: 2, total: 2, detail: { loss: 0.5 } });
    expect(done.startedAt).toBeGreaterThanOrEqual(job.createdAt);
    expect(done.finishedAt).toBeGreaterThanOrEqual(done.startedAt!);
  });

  it("fails a DanluError at once, without retry, with its code, message and hint", async () => {
    fresh();
    const job = await queue.enqueue({ owner: "ann", kind: "k", params: {} });
    let calls = 0;
    queue.startWorker(
      async () => {
        calls++;
        throw new DanluError("the dataset has no images", { code: "EMPTY_DATASET", hint: "add images" });
      },
      { workerId: "w1", ...FAST },
    );
    const failed = await waitState(job.id, "failed");
    await sleep(400);
    expect(calls).toBe(1);
    expect(failed.error).toEqual({
      code: "EMPTY_DATASET",
      message: "the dataset has no images",
      hint: "add images",
    });
    expect(failed).toMatchObject({ attempts: 1, result: null });
    expect(failed.finishedAt).not.toBeNull();
  });

  it("retries any other error with doubling backoff, then fails", async () => {
    fresh();
    const job = await queue.enqueue({ owner: "ann", kind: "k", params: {}, maxAttempts: 3 });
    const starts: number[] = [];
    queue.startWorker(
      async (ctx) => {
        starts.push(Date.now());
        expect(ctx.job.attempts).toBe(starts.length);
        throw new Error(`crash ${starts.length}`);
      },
      { workerId: "w1", ...FAST, backoffMs: 300 },
    );
    const failed = await waitState(job.id, "failed");
    expect(starts).toHaveLength(3);
    expect(starts[1]! - starts[0]!).toBeGreaterThanOrEqual(280);
    expect(starts[2]! - starts[1]!).toBeGreaterThanOrEqual(580);
    expect(failed).toMatchObject({ attempts: 3, error: { code: "INTERNAL", message: "crash 3" } });
  });

  it("cancels a queued job at once; the handler never sees it", async () => {
    fresh();
    const job = await queue.enqueue({ owner: "ann", kind: "k", params: {} });
    const cancelled = await queue.cancel(job.id);
    expect(cancelled).toMatchObject({ state: "cancelled", error: { code: "CANCELLED" } });
    expect(cancelled!.finishedAt).not.toBeNull();
    expect((await queue.list({ states: ["cancelled"] })).map((j) => j.id)).toEqual([job.id]);
    expect(await queue.list({ states: ["queued"] })).toEqual([]);
    let calls = 0;
    queue.startWorker(async () => void calls++, { workerId: "w1", ...FAST });
    await sleep(500);
    expect(calls).toBe(0);
    expect((await queue.get(job.id))!.state).toBe("cancelled");
    expect(await queue.cancel("j-nothing")).toBeNull();
  });

  it("cancels a running job: its signal aborts within about a second and it ends cancelled", async () => {
    fresh();
    const job = await queue.enqueue({ owner: "ann", kind: "k", params: {} });
    let abortedAt = 0;
    queue.startWorker(
      async ({ signal }) => {
        signal.addEventListener("abort", () => (abortedAt = Date.now()));
        return untilAborted(signal);
      },
      { workerId: "w1", ...FAST },
    );
    await waitState(job.id, "running");
    const askedAt = Date.now();
    expect(await queue.cancel(job.id)).toMatchObject({ state: "running", cancelRequested: true });
    const cancelled = await waitState(job.id, "cancelled", 5000);
    expect(abortedAt - askedAt).toBeLessThan(1500);
    expect(cancelled).toMatchObject({ error: { code: "CANCELLED" }, attempts: 1 });
    expect((await queue.cancel(job.id))!.state).toBe("cancelled");
  });

  it("requeues a failed or cancelled job under the same id; it runs again from attempt 1", async () => {
    fresh();
    const failing = await queue.enqueue({ owner: "ann", kind: "k", params: {} });
    const cancelled = await queue.enqueue({ owner: "ann", kind: "k", params: {} });
    await queue.cancel(cancelled.id);
    const seen = new Map<string, number>();
    const handler: JobHandler = async ({ job }) => {
      seen.set(job.id, (seen.get(job.id) ?? 0) + 1);
      if (job.id === failing.id && seen.get(job.id) === 1) throw new DanluError("bad", { code: "BAD" });
      return "ok";
    };
    const first = queue.startWorker(handler, { workerId: "w1", ...FAST });
    await waitState(failing.id, "failed");
    await first.close();
    for (const id of [failing.id, cancelled.id]) {
      const again = await queue.requeue(id);
      expect(again).toMatchObject({ id, state: "queued", attempts: 0, error: null, cancelRequested: false });
      expect(again).toMatchObject({ finishedAt: null, workerId: null });
    }
    queue.startWorker(handler, { workerId: "w2", ...FAST });
    for (const id of [failing.id, cancelled.id]) {
      expect(await waitState(id, "succeeded")).toMatchObject({ attempts: 1, result: "ok", error: null });
    }
    expect([...seen.values()]).toEqual([2, 1]);
    expect((await queue.requeue(failing.id))!.state).toBe("succeeded");
    expect(await queue.requeue("j-nothing")).toBeNull();
  });

  it("gives a killed worker's job back (reconcile) and another worker completes it", async () => {
    const target = env.newTarget();
    queue = env.open(target);
    const outDir = join(env.dir, `lost-${target.queueName ?? "sqlite"}-${Date.now()}`);
    mkdirSync(join(outDir, "results"), { recursive: true });
    const job = await queue.enqueue({ owner: "ann", kind: "k", params: {} });
    const last = await queue.enqueue({ owner: "bob", kind: "k", params: {}, maxAttempts: 1 });
    const lost = spawnFaultWorker({
      target,
      mode: "hang",
      outDir,
      worker: { workerId: "doomed", concurrency: 2, ...FAST, leaseMs: DOOMED_LEASE_MS },
    });
    children.push(lost);
    await waitState(job.id, "running", 20_000);
    await waitState(last.id, "running");
    lost.kill("SIGKILL");
    await lost.exited;
    await sleep(DOOMED_LEASE_MS + 200);
    expect(await queue.reconcile()).toBe(2);
    expect(await queue.get(job.id)).toMatchObject({ state: "queued", attempts: 1, workerId: null });

    let calls = 0;
    queue.startWorker(async () => (calls++, "rescued"), { workerId: "rescuer", ...FAST });
    expect(await waitState(job.id, "succeeded")).toMatchObject({
      attempts: 2,
      workerId: "rescuer",
      result: "rescued",
    });
    // its only attempt was lost: WORKER_LOST, and the handler never runs it
    expect((await waitState(last.id, "failed")).error?.code).toBe("WORKER_LOST");
    expect(calls).toBe(1);
  });
});
