import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { smallPng } from "../../../test/fixtures/bad-files/corpus.ts";
import { bearer, testServer, type TestServer } from "../test-support.ts";
import { createDataset, form, photo, type Json } from "./testing.ts";

/** Another user's dataset, traversal in every path parameter and links out of a dataset: all 404. */

let server: TestServer;
let alice: string;
let bob: string;
let aliceDir: string;
let outside: string;

/** Every dataset route, for a (raw, already encoded) dataset name and image file name. */
function routes(name: string, file: string): [string, string, () => RequestInit["body"], string?][] {
  const base = `/api/datasets/${name}`;
  const jsonBody = (value: unknown) => () => JSON.stringify(value);
  return [
    ["GET", base, () => undefined],
    ["POST", `${base}/upload`, () => form([["x.png", photo("camera.png")]])],
    ["POST", `${base}/check`, jsonBody({ detect_people: false }), "application/json"],
    ["GET", `${base}/images`, () => undefined],
    ["GET", `${base}/images/${file}`, () => undefined],
    ["GET", `${base}/images/${file}/thumb`, () => undefined],
    ["GET", `${base}/captions/${file}`, () => undefined],
    ["PUT", `${base}/captions/${file}`, jsonBody({ tags: ["x"] }), "application/json"],
    ["GET", `${base}/tags`, () => undefined],
    ["POST", `${base}/tags`, jsonBody({ op: "add", tags: ["x"] }), "application/json"],
    ["POST", `${base}/tags/undo`, jsonBody({}), "application/json"],
    ["DELETE", base, () => undefined],
  ];
}

async function statuses(token: string, name: string, file: string): Promise<string[]> {
  const out: string[] = [];
  for (const [method, path, body, type] of routes(name, file)) {
    const init = bearer(token, {
      method,
      body: body(),
      ...(type ? { headers: { "content-type": type } } : {}),
    });
    const response = await server.app.request(path, init);
    const error = response.status === 404 ? ((await response.json()) as Json).error.code : "";
    out.push(`${method} ${path} ${response.status} ${error}`);
  }
  return out;
}

const all404 = (lines: string[]) => lines.filter((line) => !/ 404 NOT_FOUND$/.test(line));

beforeAll(async () => {
  server = testServer();
  alice = server.token("alice");
  bob = server.token("bob");
  const aliceId = server.users.byName("alice")!.id;
  aliceDir = server.data.datasetDir(aliceId, "set");
  await createDataset(server, alice, "set");
  const response = await server.app.request(
    "/api/datasets/set/upload",
    bearer(alice, {
      method: "POST",
      body: form([
        ["a.png", photo("camera.png")],
        ["a.txt", "one, two"],
      ]),
    }),
  );
  expect(response.status).toBe(200);
  outside = join(server.data.root, "..", `outside-${aliceId}`);
  mkdirSync(outside, { recursive: true });
  writeFileSync(join(outside, "secret.png"), await smallPng());
  writeFileSync(join(outside, "secret.txt"), "secret, words");
});
afterAll(async () => {
  await server.close();
});

describe("another user's dataset", () => {
  it("answers 404 on every route, exactly like a missing one, and changes nothing", async () => {
    expect(all404(await statuses(bob, "set", "a.png"))).toEqual([]);
    const missing = await statuses(alice, "nope", "a.png");
    expect(all404(missing)).toEqual([]);
    expect(readdirSync(aliceDir).sort()).toEqual(["a.png", "a.txt", "manifest.json"]);
    const list = (await (await server.app.request("/api/datasets", bearer(bob))).json()) as Json;
    expect(list.datasets).toEqual([]);
  });
});

describe("traversal in path parameters", () => {
  const aliceId = () => server.users.byName("alice")!.id;
  it.each(["..", "..%2F..", "%2E%2E", "..%2F..%2Fusers", "%2Fetc", "set%00", ".", "set%2F..%2Fset"])(
    "dataset name %s: 404 on every route",
    async (name) => {
      expect(all404(await statuses(alice, name, "a.png"))).toEqual([]);
      expect(existsSync(aliceDir)).toBe(true);
    },
  );

  it("bob reaching alice's folder by a relative name: 404", async () => {
    const name = encodeURIComponent(`../../${aliceId()}/datasets/set`);
    expect(all404(await statuses(bob, name, "a.png"))).toEqual([]);
    expect(existsSync(aliceDir)).toBe(true);
  });

  const fileRoutes = (file: string) => routes("set", file).filter(([, path]) => path.includes(`/${file}`));
  it.each([
    "..%2Fset%2Fa.png",
    "..%2F..%2F..%2F..%2Fdanlu.db",
    "%2Fetc%2Fpasswd",
    "..",
    "manifest.json",
    ".danlu-backups",
    "a.png%00.png",
    "sub%2Fa.png",
    "a.txt",
  ])("file %s: 404 on every image and caption route", async (file) => {
    for (const [method, path, body, type] of fileRoutes(file)) {
      const init = bearer(alice, {
        method,
        body: body(),
        ...(type ? { headers: { "content-type": type } } : {}),
      });
      const response = await server.app.request(path, init);
      expect(`${method} ${path} ${response.status}`).toBe(`${method} ${path} 404`);
    }
  });
});

describe("links out of the dataset", () => {
  it("an image, a caption or a dataset that is a symlink to outside answers 404", async () => {
    symlinkSync(join(outside, "secret.png"), join(aliceDir, "link.png"));
    writeFileSync(join(aliceDir, "b.png"), await smallPng(20, 20));
    symlinkSync(join(outside, "secret.txt"), join(aliceDir, "b.txt"));
    for (const path of ["images/link.png", "images/link.png/thumb", "captions/link.png", "captions/b.png"]) {
      const response = await server.app.request(`/api/datasets/set/${path}`, bearer(alice));
      expect(`${path} ${response.status}`).toBe(`${path} 404`);
    }
    const put = await server.app.request(
      "/api/datasets/set/captions/b.png",
      bearer(alice, {
        method: "PUT",
        body: JSON.stringify({ tags: ["x"] }),
        headers: { "content-type": "application/json" },
      }),
    );
    expect(put.status).toBe(404);
    // the routes that read every caption refuse the dataset rather than follow the links
    for (const path of ["", "/images", "/tags"]) {
      const response = await server.app.request(`/api/datasets/set${path}`, bearer(alice));
      expect(response.status).toBe(409);
      expect(((await response.json()) as Json).error.code).toBe("LINK_OUTSIDE");
    }
    const bulk = await server.app.request(
      "/api/datasets/set/tags",
      bearer(alice, {
        method: "POST",
        body: JSON.stringify({ op: "dedupe" }),
        headers: { "content-type": "application/json" },
      }),
    );
    expect(bulk.status).toBe(409);

    const bobDatasets = server.data.datasetsDir(server.users.byName("bob")!.id);
    mkdirSync(bobDatasets, { recursive: true });
    symlinkSync(aliceDir, join(bobDatasets, "stolen"));
    expect(all404(await statuses(bob, "stolen", "a.png"))).toEqual([]);
    expect(existsSync(join(aliceDir, "a.png"))).toBe(true);
  });
});
