import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { oversizedPng, smallPng, zipWithNames } from "../../../test/fixtures/bad-files/corpus.ts";
import { readManifest } from "../../dataset/manifest.ts";
import { testServer, type TestServer } from "../test-support.ts";
import { createDataset, form, photo, upload, type Json } from "./testing.ts";

let server: TestServer;
let token: string;
let userDir: string;
let dir: string;

function setup(limits = {}): void {
  server = testServer({ limits });
  token = server.token("alice");
  const userId = server.users.byName("alice")!.id;
  userDir = server.data.userDir(userId);
  dir = server.data.datasetDir(userId, "set");
}
beforeEach(async () => {
  setup();
  await createDataset(server, token, "set");
});
afterEach(async () => {
  await server.close();
});

const entry = (report: Json, name: string) => report.files.find((file: Json) => file.name === name);

/** Every file under `root`, relative: nothing may appear outside the dataset. */
function tree(root: string, prefix = ""): string[] {
  return readdirSync(join(root, prefix), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tree(root, join(prefix, e.name)) : [join(prefix, e.name)],
  );
}

describe("upload through the import", () => {
  it("imports images, a zip and a caption; names each bad file with its reason; never shows server paths", async () => {
    const zip = await zipWithNames([
      { name: "inside/green.png", data: await smallPng(32, 32, "#00aa00") },
      { name: "inside/green.txt", data: Buffer.from("green square, simple") },
    ]);
    const response = await upload(
      server,
      token,
      "set",
      form([
        ["astronaut.png", photo("astronaut.png")],
        ["rocket.jpg", photo("rocket.jpg")],
        ["rocket.txt", "rocket, sky"],
        ["pack.zip", zip],
        ["truncated.jpg", photo("truncated.jpg")],
        ["notes.png", "not an image at all"],
        ["readme.md", "# hi"],
      ]),
    );
    expect(response.status).toBe(200);
    const report = (await response.json()) as Json;
    expect(report.counts).toEqual({ imported: 3, duplicate: 0, rejected: 2, skipped: 1 });
    expect(entry(report, "astronaut.png")).toMatchObject({ status: "imported", file: "astronaut.png" });
    expect(entry(report, "pack.zip:inside/green.png")).toMatchObject({
      status: "imported",
      file: "green.png",
    });
    expect(entry(report, "truncated.jpg").reason).toMatch(/truncated or corrupt/);
    expect(entry(report, "notes.png").reason).toMatch(/not an image/);
    expect(entry(report, "readme.md")).toMatchObject({ status: "skipped" });
    expect(JSON.stringify(report)).not.toContain(server.data.root);
    expect(readFileSync(join(dir, "rocket.txt"), "utf8")).toBe("rocket, sky\n");
    expect(readFileSync(join(dir, "green.txt"), "utf8")).toBe("green square, simple\n");
    const manifest = await readManifest(dir);
    expect(manifest.images["green.png"]?.source).toBe("pack.zip:inside/green.png");
    expect(manifest.images["rocket.png"]?.caption_source).toBe("rocket.txt");
    expect(existsSync(join(userDir, "tmp")) ? readdirSync(join(userDir, "tmp")) : []).toEqual([]);

    // the same bytes again: a duplicate, named
    const again = (await (
      await upload(server, token, "set", form([["copy.png", photo("astronaut.png")]]))
    ).json()) as Json;
    expect(again.files[0]).toMatchObject({ name: "copy.png", status: "duplicate", file: "astronaut.png" });
  });

  it("refuses a zip bomb, unsafe zip entries and a decompression bomb by the import's own checks", async () => {
    const bomb = await zipWithNames([{ name: "zeros.png", data: Buffer.alloc(40 * 1024 * 1024) }]);
    const slip = await zipWithNames([
      { name: "xx/evil.png", storeAs: "../evil.png", data: await smallPng() },
      { name: "Xabs-evil.png", storeAs: "/abs-evil.png", data: await smallPng(8, 8) },
    ]);
    const report = (await (
      await upload(
        server,
        token,
        "set",
        form([
          ["bomb.zip", bomb],
          ["slip.zip", slip],
          ["huge.png", await oversizedPng(60_000, 60_000)],
        ]),
      )
    ).json()) as Json;
    expect(report.counts.imported).toBe(0);
    expect(entry(report, "bomb.zip:zeros.png").reason).toMatch(/zip bomb guard: compression ratio/);
    expect(entry(report, "slip.zip:../evil.png").reason).toMatch(/unsafe zip entry: path with '\.\.'/);
    expect(entry(report, "slip.zip:/abs-evil.png").reason).toMatch(/unsafe zip entry: absolute path/);
    expect(entry(report, "huge.png").reason).toMatch(/decompression bomb guard/);
    expect(tree(userDir).filter((path) => /evil|zeros/.test(path))).toEqual([]);
  });

  it("saves traversal and absolute upload names under their last part, inside the dataset", async () => {
    const report = (await (
      await upload(
        server,
        token,
        "set",
        form([
          ["../../escape.png", photo("camera.png")],
          ["/etc/abs.png", photo("coffee.png")],
          ["..%2F..%2Fenc.png", photo("chelsea.png")],
          ["..\\win.png", photo("rocket.jpg")],
        ]),
      )
    ).json()) as Json;
    expect(report.counts.imported).toBe(4);
    expect(report.files.map((f: Json) => f.name).sort()).toEqual(
      ["../../escape.png", "/etc/abs.png", "..%2F..%2Fenc.png", "..\\win.png"].sort(),
    );
    const written = tree(server.data.root).filter((path) => /escape|abs|enc|win/.test(path));
    expect(written).toHaveLength(4);
    for (const path of written) expect(join(server.data.root, path).startsWith(dir + "/")).toBe(true);
    expect(written.map((path) => path.split("/").pop()).sort()).toContain("escape.png");
  });

  it("answers 400 for a part that is not 'files', an empty upload and a body that is not multipart", async () => {
    const other = await upload(server, token, "set", form([["a.png", photo("camera.png")]], "image"));
    expect(other.status).toBe(400);
    expect(((await other.json()) as Json).error).toMatchObject({ field: "image" });
    const empty = new FormData();
    empty.append("note", "hello");
    expect((await upload(server, token, "set", empty)).status).toBe(400);
    const none = await upload(server, token, "set", new FormData());
    expect(none.status).toBe(400);
    const text = await server.app.request("/api/datasets/set/upload", {
      method: "POST",
      body: "hello",
      headers: { authorization: `Bearer ${token}`, "content-type": "text/plain" },
    });
    expect(text.status).toBe(415);
  });
});

describe("upload limits: 413 naming the limit", () => {
  const withLimits = async (limits: Record<string, number>) => {
    await server.close();
    setup(limits);
    await createDataset(server, token, "set");
  };

  it("refuses a file over the per-file limit, and keeps nothing of the request", async () => {
    await withLimits({ maxFileBytes: 200 * 1024 });
    const response = await upload(
      server,
      token,
      "set",
      form([
        ["camera.png", photo("camera.png")], // 136 KiB: fine
        ["coffee.png", photo("coffee.png")], // 456 KiB: over
      ]),
    );
    expect(response.status).toBe(413);
    expect(((await response.json()) as Json).error).toMatchObject({
      code: "TOO_LARGE",
      message: "file 'coffee.png' is over the 200 KiB limit per file",
    });
    expect(readdirSync(dir)).toEqual([]);
    expect(readdirSync(join(userDir, "tmp"))).toEqual([]);
  });

  it("refuses a request over the per-request limit, by Content-Length and while reading", async () => {
    await withLimits({ maxRequestBytes: 600 * 1024 });
    const declared = await upload(server, token, "set", form([["camera.png", photo("camera.png")]]), {
      "content-length": String(10 * 1024 * 1024),
    });
    expect(declared.status).toBe(413);
    expect(((await declared.json()) as Json).error.message).toMatch(/over the 600 KiB limit per request/);

    const rockets = [1, 2, 3, 4, 5, 6].map((n): [string, Buffer] => [`rocket${n}.jpg`, photo("rocket.jpg")]);
    const streamed = await upload(server, token, "set", form(rockets)); // 6 x 110 KiB
    expect(streamed.status).toBe(413);
    expect(((await streamed.json()) as Json).error.message).toMatch(/over the 600 KiB limit per request/);
    expect(readdirSync(dir)).toEqual([]);
    expect(readdirSync(join(userDir, "tmp"))).toEqual([]);
  });

  it("refuses an upload that would take the user over their quota", async () => {
    await withLimits({ maxUserBytes: 1024 * 1024 });
    const first = await upload(server, token, "set", form([["chelsea.png", photo("chelsea.png")]]));
    expect(first.status).toBe(200); // ~240 KiB upload, stored as a PNG of similar size
    const rockets = [1, 2, 3, 4, 5, 6, 7].map((n): [string, Buffer] => [`r${n}.jpg`, photo("rocket.jpg")]);
    const response = await upload(server, token, "set", form(rockets)); // 7 x 110 KiB
    expect(response.status).toBe(413);
    expect(((await response.json()) as Json).error.message).toMatch(/over your 1.0 MiB storage limit/);
    expect(readdirSync(dir).filter((f) => f.endsWith(".png"))).toEqual(["chelsea.png"]);
  });
});
