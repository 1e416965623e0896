import { existsSync } from "node:fs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { bearer, postJson, testServer, type TestServer } from "../test-support.ts";
import { createDataset, form, photo, upload, type Json } from "./testing.ts";

let server: TestServer;
let token: string;
beforeEach(() => {
  server = testServer();
  token = server.token("alice");
});
afterEach(async () => {
  await server.close();
});

describe("datasets: create, list, get, delete", () => {
  it("creates an empty dataset, refuses the same name again, lists and gets it", async () => {
    const created = await server.app.request("/api/datasets", postJson(token, { name: "alice photos" }));
    expect(created.status).toBe(201);
    expect(await created.json()).toMatchObject({ name: "alice photos", images: 0 });

    const again = await server.app.request("/api/datasets", postJson(token, { name: "alice photos" }));
    expect(again.status).toBe(409);
    expect(((await again.json()) as Json).error).toMatchObject({ code: "CONFLICT", field: "name" });

    await createDataset(server, token, "second");
    expect((await upload(server, token, "second", form([["cam.png", photo("camera.png")]]))).status).toBe(
      200,
    );
    const list = (await (await server.app.request("/api/datasets", bearer(token))).json()) as Json;
    expect(list.datasets.map((d: Json) => [d.name, d.images])).toEqual([
      ["alice photos", 0],
      ["second", 1],
    ]);
    expect(list.datasets[1].bytes).toBeGreaterThan(10_000);

    const one = (await (await server.app.request("/api/datasets/second", bearer(token))).json()) as Json;
    expect(one).toMatchObject({ name: "second", images: 1, captioned: 0, undo: null });
  });

  it("deletes a dataset with its thumbnails; then it is 404", async () => {
    await createDataset(server, token, "gone");
    await upload(server, token, "gone", form([["cam.png", photo("camera.png")]]));
    expect((await server.app.request("/api/datasets/gone/images/cam.png/thumb", bearer(token))).status).toBe(
      200,
    );
    const userId = server.users.byName("alice")!.id;
    const deleted = await server.app.request("/api/datasets/gone", bearer(token, { method: "DELETE" }));
    expect(deleted.status).toBe(200);
    expect(existsSync(server.data.datasetDir(userId, "gone"))).toBe(false);
    expect(existsSync(`${server.data.thumbsDir}/${userId}/gone`)).toBe(false);
    expect((await server.app.request("/api/datasets/gone", bearer(token))).status).toBe(404);
    expect((await server.app.request("/api/datasets/gone", bearer(token, { method: "DELETE" }))).status).toBe(
      404,
    );
  });

  it("refuses bad names, unknown fields and malformed JSON with a 400 naming the field", async () => {
    const bad = await server.app.request("/api/datasets", postJson(token, { name: "../escape" }));
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as Json).error).toMatchObject({ code: "BAD_NAME", field: "name" });

    const extra = await server.app.request("/api/datasets", postJson(token, { name: "ok", colour: "red" }));
    expect(extra.status).toBe(400);
    expect(((await extra.json()) as Json).error).toMatchObject({
      field: "colour",
      message: expect.stringMatching(/colour/),
    });

    const missing = await server.app.request("/api/datasets", postJson(token, {}));
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as Json).error.field).toBe("name");

    const malformed = await server.app.request(
      "/api/datasets",
      bearer(token, { method: "POST", body: "{name:", headers: { "content-type": "application/json" } }),
    );
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as Json).error.code).toBe("BAD_REQUEST");
  });

  it("answers 401 without a token", async () => {
    expect((await server.app.request("/api/datasets")).status).toBe(401);
    const create = await server.app.request("/api/datasets", {
      method: "POST",
      body: JSON.stringify({ name: "x" }),
      headers: { "content-type": "application/json" },
    });
    expect(create.status).toBe(401);
    expect((await upload(server, "dl_wrong", "x", form([["a.png", photo("camera.png")]]))).status).toBe(401);
  });

  it("lists every dataset route in the OpenAPI document", async () => {
    const doc = (await (await server.app.request("/api/openapi.json", bearer(token))).json()) as Json;
    const paths = Object.keys(doc.paths).filter((path) => path.startsWith("/api/datasets"));
    expect(paths.sort()).toEqual([
      "/api/datasets",
      "/api/datasets/{name}",
      "/api/datasets/{name}/captions/{file}",
      "/api/datasets/{name}/check",
      "/api/datasets/{name}/images",
      "/api/datasets/{name}/images/{file}",
      "/api/datasets/{name}/images/{file}/thumb",
      "/api/datasets/{name}/tags",
      "/api/datasets/{name}/tags/undo",
      "/api/datasets/{name}/upload",
    ]);
    expect(
      doc.paths["/api/datasets/{name}/upload"].post.requestBody.content["multipart/form-data"],
    ).toBeDefined();
    expect(doc.paths["/api/datasets/{name}/tags"].post.requestBody.content["application/json"]).toBeDefined();
  });
});
