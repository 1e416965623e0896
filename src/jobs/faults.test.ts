// Fault tests on both backends: worker processes killed with SIGKILL mid-job, and a server restart.
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { BACKENDS, TestBackend, sleep, spawnFaultWorker, stopFaultWorker, waitFor } from "./test-queues.ts";
import type { FaultWorker, FaultWorkerConfig } from "./test-queues.ts";
import { JobCancelledError, type JobHandler, type JobQueue, type WorkerOptions } from "./types.ts";

const JOBS = 200;
/** Leases of 1.5 s: a killed worker's jobs are back within about 2 s. */
const WORKER: Omit<WorkerOptions, "workerId"> = {
  concurrency: 2,
  leaseMs: 1500,
  pollMs: 50,
  cancelPollMs: 500,
  maxRunningPerUser: 4,
};

interface Written {
  id: string;
  pid: number;
  nonce: string;
}

async function allSucceeded(queue: JobQueue, count: number): Promise<boolean> {
  return (await queue.list({ states: ["succeeded"], limit: 1000 })).length === count;
}

describe.each(BACKENDS)("faults on %s", (backend) => {
  const env = new TestBackend(backend);
  const workers: FaultWorker[] = [];

  beforeAll(() => env.start());
  afterAll(() => env.stop());
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((worker) => stopFaultWorker(worker)));
    await env.closeAll();
  });

  it(`${JOBS} jobs, 4 worker processes, 2 of them SIGKILLed and restarted: each succeeds exactly once`, async () => {
    const target = env.newTarget();
    const queue = env.open(target);
    const outDir = join(env.dir, `kill-${target.queueName ?? "sqlite"}`);
    mkdirSync(join(outDir, "results"), { recursive: true });
    const ids: string[] = [];
    for (let i = 0; i < JOBS; i++) {
      const params = { ms: 50 + Math.floor(Math.random() * 250) };
      ids.push((await queue.enqueue({ owner: `user${i % 10}`, kind: "k", params, maxAttempts: 5 })).id);
    }
    const log = join(outDir, "side-effects.log");
    const logLines = () => (existsSync(log) ? readFileSync(log, "utf8").trim().split("\n") : []);
    const config = (slot: number): FaultWorkerConfig => ({
      target,
      mode: "work",
      outDir,
      worker: { workerId: `slot${slot}-${Date.now()}`, ...WORKER },
    });
    const slots = [0, 1, 2, 3].map((slot) => spawnFaultWorker(config(slot)));
    workers.push(...slots);
    const killed = new Set<number>();
    // Slots 0 and 1 die once each is busy (it has written a result), at a random moment after that.
    while (!(await allSucceeded(queue, JOBS)) && killed.size < 6) {
      const slot = killed.size % 2;
      const victim = slots[slot]!;
      const busy = await waitFor(
        `slot ${slot} to work`,
        async () =>
          logLines().some((line) => line.split(" ")[1] === String(victim.pid)) || allSucceeded(queue, JOBS),
        30_000,
      );
      if (!busy || (await allSucceeded(queue, JOBS))) break;
      await sleep(Math.random() * 1000);
      victim.kill("SIGKILL");
      killed.add(victim.pid);
      await victim.exited;
      slots[slot] = spawnFaultWorker(config(slot));
      workers.push(slots[slot]!);
    }
    await waitFor(`all ${JOBS} jobs to succeed`, () => allSucceeded(queue, JOBS), 60_000);
    expect(killed.size).toBeGreaterThanOrEqual(2);

    const records = await queue.list({ limit: 1000 });
    expect(records.map((record) => record.id).sort()).toEqual([...ids].sort());
    const lines = logLines().map((line) => line.split(" "));
    const results = readdirSync(join(outDir, "results")).filter((name) => name.endsWith(".json"));
    expect(results).toHaveLength(JOBS);
    for (const record of records) {
      expect(record.state).toBe("succeeded");
      const file = JSON.parse(readFileSync(join(outDir, "results", `${record.id}.json`), "utf8")) as Written;
      // the recorded completion is the last run's: its result file, and its line in the log
      expect(record.result).toEqual(file);
      expect(file.id).toBe(record.id);
      const runs = lines.filter(([id]) => id === record.id);
      expect(runs.some(([, pid, nonce]) => pid === String(file.pid) && nonce === file.nonce)).toBe(true);
      // a live worker never ran a job that another run completed: extra runs died with their process
      expect(runs.filter(([, pid]) => !killed.has(Number(pid))).length).toBeLessThanOrEqual(1);
    }
    // the kills cost attempts: some job ran more than once, and none was lost for good
    expect(records.reduce((sum, record) => sum + record.attempts, 0)).toBeGreaterThan(JOBS);
  });

  it("a server restart with jobs queued and running loses none", async () => {
    const target = env.newTarget();
    const before = env.open(target);
    const finished = new Map<string, number>();
    const handler: JobHandler = ({ job, signal }) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => {
            finished.set(job.id, (finished.get(job.id) ?? 0) + 1);
            resolve({ by: job.workerId });
          },
          200 + Math.random() * 200,
        );
        signal.addEventListener("abort", () => (clearTimeout(timer), reject(new JobCancelledError())));
      });
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) {
      ids.push((await before.enqueue({ owner: `user${i % 5}`, kind: "k", params: {} })).id);
    }
    for (const n of [1, 2]) before.startWorker(handler, { workerId: `old${n}`, ...WORKER });
    await waitFor("some jobs to finish and others to run", async () => {
      const jobs = await before.list({ limit: 1000 });
      const count = (state: string) => jobs.filter((job) => job.state === state).length;
      return count("succeeded") >= 3 && count("running") >= 2 && count("queued") >= 5;
    });
    await before.close();

    const after = env.open(target);
    await after.reconcile();
    const states = new Set((await after.list({ limit: 1000 })).map((job) => job.state));
    expect([...states].every((state) => state === "queued" || state === "succeeded")).toBe(true);
    for (const n of [1, 2]) after.startWorker(handler, { workerId: `new${n}`, ...WORKER });
    await waitFor("every job to succeed after the restart", () => allSucceeded(after, ids.length), 30_000);
    expect([...finished.keys()].sort()).toEqual([...ids].sort());
    expect([...finished.values()].every((times) => times === 1)).toBe(true);
  });
});
