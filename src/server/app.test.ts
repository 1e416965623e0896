import { symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startJobWorker } from "../jobs/worker.ts";
import type { QueueWorker } from "../jobs/types.ts";
import { bearer, parseSse, postJson, TEST_KINDS, testServer, type TestServer } from "./test-support.ts";

let server: TestServer;
let worker: QueueWorker | null = null;
beforeEach(() => {
  server = testServer();
});
afterEach(async () => {
  await worker?.close({ abort: true });
  worker = null;
  await server.close();
});

function startWorker(): void {
  worker = startJobWorker(server.queue, {
    data: server.data,
    kinds: TEST_KINDS,
    workerId: "test-worker",
    pollMs: 20,
    cancelPollMs: 50,
  });
}

async function waitForState(token: string, id: string, states: string[]): Promise<Record<string, unknown>> {
  for (let i = 0; i < 400; i += 1) {
    const job = (await (await server.app.request(`/api/jobs/${id}`, bearer(token))).json()) as Record<
      string,
      unknown
    >;
    if (states.includes(job.state as string)) return job;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`job ${id} never reached ${states.join("/")}`);
}

describe("auth", () => {
  it("answers 401 without a token or with a wrong one, and /api/health without one", async () => {
    const none = await server.app.request("/api/jobs");
    expect(none.status).toBe(401);
    expect(((await none.json()) as { error: { code: string; hint: string } }).error).toMatchObject({
      code: "UNAUTHORIZED",
      hint: expect.stringContaining("danlu users add"),
    });
    expect((await server.app.request("/api/jobs", bearer("dl_wrong"))).status).toBe(401);
    expect((await server.app.request("/api/openapi.json")).status).toBe(401);
    expect((await server.app.request("/api/health")).status).toBe(200);
  });

  it("refuses a revoked token", async () => {
    const token = server.token("carol");
    expect((await server.app.request("/api/me", bearer(token))).status).toBe(200);
    server.users.revoke("carol");
    expect((await server.app.request("/api/me", bearer(token))).status).toBe(401);
  });

  it("stores only token hashes", async () => {
    const token = server.token("dave");
    const { default: Database } = await import("better-sqlite3");
    const db = new Database(server.data.dbPath, { readonly: true });
    const dump = JSON.stringify(db.prepare("SELECT * FROM users").all());
    db.close();
    expect(dump).not.toContain(token);
    expect(dump).not.toContain(token.slice(3));
  });
});

describe("jobs", () => {
  it("runs a job: record, events (with resume by Last-Event-ID), files and a range download", async () => {
    const alice = server.token("alice");
    const created = await server.app.request(
      "/api/jobs",
      postJson(alice, { kind: "echo", params: { text: "hello world" } }),
    );
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    startWorker();
    const done = await waitForState(alice, id, ["succeeded"]);
    expect(done).toMatchObject({ result: { file: "out.txt" }, stage: "writing", error: null });
    expect((done.timings as { run_s: number }).run_s).toBeGreaterThanOrEqual(0);

    const stream = await server.app.request(`/api/jobs/${id}/events`, bearer(alice));
    expect(stream.headers.get("content-type")).toContain("text/event-stream");
    const events = parseSse(await stream.text());
    expect(events.map((e) => e.event)).toEqual(["state", "stage", "log", "result", "end"]);
    expect(events.at(-1)?.data).toMatchObject({ id, state: "succeeded" });
    const again = parseSse(
      await (
        await server.app.request(
          `/api/jobs/${id}/events`,
          bearer(alice, { headers: { "last-event-id": "2" } }),
        )
      ).text(),
    );
    expect(again.map((e) => e.id ?? e.event)).toEqual(["3", "4", "end"]);

    const files = (await (await server.app.request(`/api/jobs/${id}/files`, bearer(alice))).json()) as {
      files: { path: string; bytes: number }[];
    };
    expect(files.files.map((f) => f.path)).toEqual(["events.jsonl", "out.txt"]);
    const whole = await server.app.request(`/api/jobs/${id}/file?path=out.txt`, bearer(alice));
    expect(await whole.text()).toBe("hello world");
    const part = await server.app.request(
      `/api/jobs/${id}/file?path=out.txt`,
      bearer(alice, { headers: { range: "bytes=6-" } }),
    );
    expect(part.status).toBe(206);
    expect(part.headers.get("content-range")).toBe("bytes 6-10/11");
    expect(await part.text()).toBe("world");
    const bad = await server.app.request(
      `/api/jobs/${id}/file?path=out.txt`,
      bearer(alice, { headers: { range: "bytes=50-" } }),
    );
    expect(bad.status).toBe(416);
  });

  it("fails a user error once, with its code and hint, and resumes it on request", async () => {
    const alice = server.token("alice");
    const { id } = (await (
      await server.app.request(
        "/api/jobs",
        postJson(alice, { kind: "echo", params: { text: "x", fail: true } }),
      )
    ).json()) as { id: string };
    startWorker();
    const failed = await waitForState(alice, id, ["failed"]);
    expect(failed).toMatchObject({
      attempts: 1,
      error: { code: "ASKED", message: "asked to fail", hint: "do not ask" },
    });
    const resumed = await server.app.request(`/api/jobs/${id}/resume`, bearer(alice, { method: "POST" }));
    expect(resumed.status).toBe(202);
    await waitForState(alice, id, ["failed"]);
    const running = await server.app.request(
      "/api/jobs",
      postJson(alice, { kind: "echo", params: { text: "y" } }),
    );
    const ok = (await running.json()) as { id: string };
    await waitForState(alice, ok.id, ["succeeded"]);
    const conflict = await server.app.request(`/api/jobs/${ok.id}/resume`, bearer(alice, { method: "POST" }));
    expect(conflict.status).toBe(409);
  });

  it("cancels a queued job at once and a running one through its signal", async () => {
    const alice = server.token("alice");
    const queued = (await (
      await server.app.request("/api/jobs", postJson(alice, { kind: "wait", params: {} }))
    ).json()) as { id: string };
    const cancelled = await server.app.request(
      `/api/jobs/${queued.id}/cancel`,
      bearer(alice, { method: "POST" }),
    );
    expect(((await cancelled.json()) as { state: string }).state).toBe("cancelled");

    const running = (await (
      await server.app.request("/api/jobs", postJson(alice, { kind: "wait", params: {} }))
    ).json()) as { id: string };
    startWorker();
    await waitForState(alice, running.id, ["running"]);
    await server.app.request(`/api/jobs/${running.id}/cancel`, bearer(alice, { method: "POST" }));
    await waitForState(alice, running.id, ["cancelled"]);
  });

  it("lists with filters; another user's job answers 404 everywhere; an admin sees it", async () => {
    const alice = server.token("alice");
    const bob = server.token("bob");
    const admin = server.token("root", "admin");
    const { id } = (await (
      await server.app.request("/api/jobs", postJson(alice, { kind: "echo", params: { text: "a" } }))
    ).json()) as { id: string };
    await server.app.request("/api/jobs", postJson(bob, { kind: "wait", params: {} }));
    const mine = (await (
      await server.app.request("/api/jobs?state=queued&kind=echo", bearer(alice))
    ).json()) as { jobs: { id: string }[] };
    expect(mine.jobs.map((j) => j.id)).toEqual([id]);
    for (const [path, method] of [
      [`/api/jobs/${id}`, "GET"],
      [`/api/jobs/${id}/cancel`, "POST"],
      [`/api/jobs/${id}/resume`, "POST"],
      [`/api/jobs/${id}/events`, "GET"],
      [`/api/jobs/${id}/stream-token`, "POST"],
      [`/api/jobs/${id}/files`, "GET"],
      [`/api/jobs/${id}/file?path=events.jsonl`, "GET"],
    ] as const) {
      const response = await server.app.request(path, bearer(bob, { method }));
      expect(response.status, `${method} ${path}`).toBe(404);
    }
    expect((await server.app.request(`/api/jobs/${id}`, bearer(admin))).status).toBe(200);
    const all = (await (await server.app.request("/api/jobs?all=1", bearer(admin))).json()) as {
      jobs: unknown[];
    };
    expect(all.jobs).toHaveLength(2);
    const bobAll = (await (await server.app.request("/api/jobs?all=1", bearer(bob))).json()) as {
      jobs: unknown[];
    };
    expect(bobAll.jobs).toHaveLength(1);
  });

  it("refuses traversal and symlinks out of a job's folder", async () => {
    const alice = server.token("alice");
    const { id } = (await (
      await server.app.request("/api/jobs", postJson(alice, { kind: "echo", params: { text: "a" } }))
    ).json()) as { id: string };
    startWorker();
    await waitForState(alice, id, ["succeeded"]);
    const dir = server.data.jobDir((await server.queue.get(id))!.owner, id);
    writeFileSync(join(server.data.root, "outside.txt"), "secret");
    symlinkSync(join(server.data.root, "outside.txt"), join(dir, "link.txt"));
    for (const path of [
      "../../../../danlu.db",
      "..%2F..%2F..%2F..%2Fdanlu.db",
      "/etc/passwd",
      "link.txt",
      "a/../../x",
    ]) {
      const response = await server.app.request(
        `/api/jobs/${id}/file?path=${encodeURIComponent(path)}`,
        bearer(alice),
      );
      expect(response.status, path).toBe(404);
    }
    expect((await server.app.request("/api/jobs/..%2F..%2Fx", bearer(alice))).status).toBe(400);
  });

  it("names the field of a bad body: unknown kind, unknown param, wrong type, malformed JSON", async () => {
    const alice = server.token("alice");
    const cases: [unknown, string][] = [
      [{ kind: "nope", params: {} }, "kind"],
      [{ kind: "echo", params: { text: "a", colour: "red" } }, "params.colour"],
      [{ kind: "echo", params: { text: 3 } }, "params.text"],
      [{ kind: "echo", params: { text: "a" }, extra: 1 }, "extra"],
    ];
    for (const [body, field] of cases) {
      const response = await server.app.request("/api/jobs", postJson(alice, body));
      expect(response.status, JSON.stringify(body)).toBe(400);
      const error = ((await response.json()) as { error: { code: string; field: string; message: string } })
        .error;
      expect(error.code).toBe("BAD_REQUEST");
      expect(error.field, JSON.stringify(error)).toBe(field);
    }
    const malformed = await server.app.request(
      "/api/jobs",
      bearer(alice, { method: "POST", body: "{oops", headers: { "content-type": "application/json" } }),
    );
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as { error: { code: string } }).error.code).toBe("BAD_REQUEST");
    const priority = await server.app.request(
      "/api/jobs",
      postJson(alice, { kind: "echo", params: { text: "a" }, priority: 9 }),
    );
    expect(((await priority.json()) as { error: { field: string } }).error.field).toBe("priority");
  });

  it("gives EventSource a short-lived token for one job", async () => {
    const alice = server.token("alice");
    const { id } = (await (
      await server.app.request("/api/jobs", postJson(alice, { kind: "echo", params: { text: "a" } }))
    ).json()) as { id: string };
    const other = (await (
      await server.app.request("/api/jobs", postJson(alice, { kind: "echo", params: { text: "b" } }))
    ).json()) as { id: string };
    startWorker();
    await waitForState(alice, id, ["succeeded"]);
    const { url, token } = (await (
      await server.app.request(`/api/jobs/${id}/stream-token`, bearer(alice, { method: "POST" }))
    ).json()) as { url: string; token: string };
    const stream = await server.app.request(url);
    expect(stream.status).toBe(200);
    expect(parseSse(await stream.text()).at(-1)?.event).toBe("end");
    expect(
      (await server.app.request(`/api/jobs/${other.id}/events?token=${encodeURIComponent(token)}`)).status,
    ).toBe(401);
    expect((await server.app.request(`/api/jobs/${id}?token=${encodeURIComponent(token)}`)).status).toBe(401);
  });
});

describe("server paths", () => {
  it("are taken out of results, events and error messages", async () => {
    const alice = server.token("alice");
    const post = async (fail: boolean) =>
      (
        (await (
          await server.app.request("/api/jobs", postJson(alice, { kind: "paths", params: { fail } }))
        ).json()) as { id: string }
      ).id;
    const ok = await post(false);
    const bad = await post(true);
    startWorker();
    const done = await waitForState(alice, ok, ["succeeded"]);
    expect(done.result).toEqual({ file: `jobs/${ok}/out.txt`, models: "models" });
    const failed = await waitForState(alice, bad, ["failed"]);
    expect(failed.error).toEqual({
      code: "BAD",
      message: `cannot read jobs/${bad}/out.txt`,
      hint: "look in models",
    });
    const events = await (await server.app.request(`/api/jobs/${bad}/events`, bearer(alice))).text();
    expect(events).toContain(`wrote jobs/${bad}/out.txt`);
    expect(events).not.toContain(server.data.root);
  });
});

describe("meta", () => {
  it("serves an OpenAPI 3.1 document generated from the schemas, with every kind's params", async () => {
    const alice = server.token("alice");
    const doc = (await (await server.app.request("/api/openapi.json", bearer(alice))).json()) as {
      openapi: string;
      paths: Record<string, unknown>;
    };
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        "/api/jobs",
        "/api/jobs/{id}",
        "/api/jobs/{id}/events",
        "/api/jobs/{id}/file",
        "/api/presets",
        "/api/config/schema",
      ]),
    );
    expect(JSON.stringify(doc)).toContain("what to write");
  });

  it("lists presets, the config schema, kinds and models", async () => {
    const alice = server.token("alice");
    const presets = (await (await server.app.request("/api/presets", bearer(alice))).json()) as {
      presets: { name: string }[];
    };
    expect(presets.presets.map((p) => p.name)).toContain("person");
    const schema = (await (await server.app.request("/api/config/schema", bearer(alice))).json()) as {
      keys: { key: string; default: unknown; description: string }[];
    };
    expect(schema.keys.find((k) => k.key === "network_dim")).toMatchObject({ default: expect.any(Number) });
    const kinds = (await (await server.app.request("/api/kinds", bearer(alice))).json()) as {
      kinds: { name: string; params: { properties: object } }[];
    };
    expect(kinds.kinds.find((k) => k.name === "echo")?.params.properties).toHaveProperty("text");
    writeFileSync(join(server.data.modelsDir, "tiny.safetensors"), "x");
    const models = (await (await server.app.request("/api/models", bearer(alice))).json()) as {
      models: { name: string }[];
    };
    expect(models.models).toEqual([{ name: "tiny.safetensors", bytes: 1 }]);
  });
});
