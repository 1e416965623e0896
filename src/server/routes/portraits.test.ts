import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { portrait } from "../../jobs/kinds/portrait.ts";
import { form, photo, type Json } from "../datasets/testing.ts";
import { bearer, TEST_KINDS, testServer, type TestServer } from "../test-support.ts";

let server: TestServer;
let alice: string;

beforeEach(() => {
  server = testServer({ kinds: { ...TEST_KINDS, portrait } });
  alice = server.token("alice");
  mkdirSync(server.data.modelsDir, { recursive: true });
  writeFileSync(join(server.data.modelsDir, "sd15.safetensors"), "stand-in");
});
afterEach(async () => {
  await server.close();
});

function post(token: string, body: FormData): Promise<Response> {
  return Promise.resolve(server.app.request("/api/portraits", bearer(token, { method: "POST", body })));
}

/** The photos as `files` parts, and the params as the JSON text field. */
function portraitForm(
  params: unknown,
  files: [string, Buffer | string][] = [["me.png", photo("astronaut.png")]],
) {
  const body = form(files);
  body.append("params", typeof params === "string" ? params : JSON.stringify(params));
  return body;
}

const datasets = (userId: string) => {
  try {
    return readdirSync(server.data.datasetsDir(userId));
  } catch {
    return [];
  }
};

describe("POST /api/portraits", () => {
  it("uploads the photos into a new dataset and queues a portrait job with the params", async () => {
    const params = { model: "sd15.safetensors", styles: ["id_photo", "hanfu"], count: 2, candidates: 3 };
    const response = await post(
      alice,
      portraitForm(params, [
        ["me.png", photo("astronaut.png")],
        ["other.jpg", photo("rocket.jpg")],
        ["notes.png", "not an image"],
      ]),
    );
    expect(response.status).toBe(201);
    const body = (await response.json()) as Json;
    expect(body.dataset).toMatch(/^portrait-\d{8}-\d{6}-[0-9a-f]{4}$/);
    expect(body.upload).toMatchObject({ dataset: body.dataset, counts: { imported: 2, rejected: 1 } });
    expect(body.job).toMatchObject({ kind: "portrait", state: "queued" });
    expect(body.job.params).toMatchObject({ ...params, dataset: body.dataset, trigger: "dlperson" });
    const userId = server.users.byName("alice")!.id;
    expect(readdirSync(server.data.datasetDir(userId, body.dataset)).sort()).toEqual([
      "manifest.json",
      "me.png",
      "other.png",
    ]);
    const job = await server.app.request(`/api/jobs/${body.job.id}`, bearer(alice));
    expect(((await job.json()) as Json).params.dataset).toBe(body.dataset);

    // another user sees neither the job nor the dataset
    const bob = server.token("bob");
    expect((await server.app.request(`/api/jobs/${body.job.id}`, bearer(bob))).status).toBe(404);
    expect((await server.app.request(`/api/datasets/${body.dataset}`, bearer(bob))).status).toBe(404);
  });

  it("answers 400 naming params.FIELD for a bad field, and makes no dataset", async () => {
    const cases: [unknown, string][] = [
      [{ model: "sd15.safetensors", count: 0 }, "params.count"],
      [{ model: "sd15.safetensors", colour: "red" }, "params.colour"],
      [{ count: 2 }, "params.model"],
      [{ model: "sd15.safetensors", dataset: "mine" }, "params.dataset"],
      [{ model: "missing.safetensors" }, "params.model"],
      [{ model: "sd15.safetensors", styles: ["id_photo", "disco"] }, "params.styles"],
      [{ model: "sd15.safetensors", count: 4, candidates: 2 }, "params.candidates"],
      // the training settings are checked before the upload, as the train kind's are
      [{ model: "sd15.safetensors", config: { learing_rate: 1e-4 } }, "params.config.learing_rate"],
      [{ model: "sd15.safetensors", config: { output_dir: "/tmp" } }, "params.config.output_dir"],
      [{ model: "sd15.safetensors", config: { trigger_word: "me" } }, "params.config.trigger_word"],
      ["{not json", "params"],
    ];
    for (const [params, field] of cases) {
      const response = await post(alice, portraitForm(params));
      expect(response.status, JSON.stringify(params)).toBe(400);
      const error = ((await response.json()) as Json).error;
      expect(error, JSON.stringify(params)).toMatchObject({ code: "BAD_REQUEST", field });
      expect(error.hint).toBeTypeOf("string");
    }
    expect(datasets(server.users.byName("alice")!.id)).toEqual([]);
  });

  it("answers 400 without files, and for a field other than files and params", async () => {
    const none = await post(alice, portraitForm({ model: "sd15.safetensors" }, []));
    expect(none.status).toBe(400);
    expect(((await none.json()) as Json).error).toMatchObject({ field: "files" });
    const other = portraitForm({ model: "sd15.safetensors" });
    other.append("note", "hello");
    const extra = await post(alice, other);
    expect(extra.status).toBe(400);
    expect(((await extra.json()) as Json).error).toMatchObject({ field: "note" });
    expect(datasets(server.users.byName("alice")!.id)).toEqual([]);
  });

  it("needs the token", async () => {
    const response = await server.app.request("/api/portraits", {
      method: "POST",
      body: portraitForm({ model: "sd15.safetensors" }),
    });
    expect(response.status).toBe(401);
    expect((await server.app.request("/api/portraits/styles")).status).toBe(401);
  });
});

describe("GET /api/portraits/styles", () => {
  it("lists the six shipped styles with titles in both languages", async () => {
    const response = await server.app.request("/api/portraits/styles", bearer(alice));
    expect(response.status).toBe(200);
    const { styles } = (await response.json()) as Json;
    expect(styles.map((s: Json) => s.name).sort()).toEqual(
      ["business", "cyberpunk", "film", "hanfu", "id_photo", "watercolor"].sort(),
    );
    for (const style of styles) {
      expect(style).toMatchObject({
        title: expect.any(String),
        title_zh: expect.any(String),
        width: expect.any(Number),
        height: expect.any(Number),
        sampler: expect.any(String),
        steps: expect.any(Number),
      });
    }
  });

  it("adds the user's own templates", async () => {
    const dir = join(server.data.userDir(server.users.byName("alice")!.id), "styles");
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, "studio.toml"),
      'title = "Studio"\ntitle_zh = "影棚"\nprompt = "photo of {trigger}"\n',
    );
    const { styles } = (await (
      await server.app.request("/api/portraits/styles", bearer(alice))
    ).json()) as Json;
    expect(styles.find((s: Json) => s.name === "studio")).toMatchObject({
      title: "Studio",
      title_zh: "影棚",
    });
  });

  it("is in the OpenAPI document with the upload's multipart body", async () => {
    const doc = (await (await server.app.request("/api/openapi.json", bearer(alice))).json()) as Json;
    const body = doc.paths["/api/portraits"].post.requestBody.content["multipart/form-data"].schema;
    expect(Object.keys(body.properties).sort()).toEqual(["files", "params"]);
    expect(doc.paths["/api/portraits/styles"].get).toBeDefined();
  });
});
