import { readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bearer, testServer, type TestServer } from "../test-support.ts";
import { CHECK_FILE } from "./checks.ts";
import { createDataset, form, photo, sendJson, upload, type Json } from "./testing.ts";
import { thumbStats } from "./thumbs.ts";

let server: TestServer;
let token: string;
let dir: string;
let thumbs: string;

beforeAll(async () => {
  server = testServer();
  token = server.token("alice");
  const userId = server.users.byName("alice")!.id;
  dir = server.data.datasetDir(userId, "set");
  thumbs = join(server.data.thumbsDir, userId, "set");
  await createDataset(server, token, "set");
  const blurred = await sharp(photo("coffee.png")).blur(6).png().toBuffer();
  const astronaut = photo("astronaut.png");
  const pair = await sharp({ create: { width: 1024, height: 512, channels: 3, background: "#fff" } })
    .composite([
      { input: astronaut, left: 0, top: 0 },
      { input: astronaut, left: 512, top: 0 },
    ])
    .png()
    .toBuffer();
  const response = await upload(
    server,
    token,
    "set",
    form([
      ["astronaut.png", photo("astronaut.png")],
      ["astronaut.txt", "astronaut, smiling"],
      ["camera.png", photo("camera.png")],
      ["chelsea.png", photo("chelsea.png")],
      ["blurred.png", blurred],
      ["pair.png", pair],
      ["again.png", await sharp(astronaut).resize(480).png().toBuffer()],
    ]),
  );
  expect(response.status).toBe(200);
});
afterAll(async () => {
  await server.close();
});

const get = async (path: string, headers: Record<string, string> = {}) =>
  server.app.request(path, bearer(token, { headers }));

describe("images with captions and check flags", () => {
  it("lists every image with its caption and the library's flags, running the check once", async () => {
    const body = (await (await get("/api/datasets/set/images")).json()) as Json;
    const byFile = Object.fromEntries(body.images.map((image: Json) => [image.file, image]));
    expect(Object.keys(byFile)).toEqual([
      "again.png",
      "astronaut.png",
      "blurred.png",
      "camera.png",
      "chelsea.png",
      "pair.png",
    ]);
    expect(byFile["astronaut.png"]).toMatchObject({
      tags: ["astronaut", "smiling"],
      caption: "astronaut, smiling",
      flags: [],
      width: 512,
      height: 512,
      source: "astronaut.png",
      faces: 1,
    });
    expect(byFile["chelsea.png"].flags).toContain("small");
    expect(byFile["blurred.png"].flags).toContain("blurry");
    expect(byFile["again.png"]).toMatchObject({
      flags: ["small", "duplicate"],
      duplicate_of: "astronaut.png",
    });
    expect(byFile["pair.png"]).toMatchObject({ flags: ["several-people"], people: 2 });
    expect(byFile["camera.png"].tags).toEqual([]);
    expect(body.check.summary.join("\n")).toMatch(/blurry/);
    const stored = statSync(join(dir, CHECK_FILE)).mtimeMs;

    // unchanged images: the stored report is reused, not rerun
    await get("/api/datasets/set/images");
    expect(statSync(join(dir, CHECK_FILE)).mtimeMs).toBe(stored);
  });

  it("reruns the check with new settings on POST /check, and after the images change", async () => {
    const checked = await server.app.request(
      "/api/datasets/set/check",
      sendJson(token, "POST", { min_side: 300, detect_people: false }),
    );
    expect(checked.status).toBe(200);
    expect(((await checked.json()) as Json).settings).toMatchObject({ minSide: 300, detectPeople: false });
    let body = (await (await get("/api/datasets/set/images")).json()) as Json;
    expect(body.images.find((i: Json) => i.file === "chelsea.png").flags).toEqual([]); // 451x300 passes 300

    const bad = await server.app.request(
      "/api/datasets/set/check",
      sendJson(token, "POST", { min_sides: 3 }),
    );
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as Json).error).toMatchObject({ field: "min_sides" });

    await upload(server, token, "set", form([["rocket.jpg", photo("rocket.jpg")]]));
    body = (await (await get("/api/datasets/set/images?check=stored")).json()) as Json;
    expect(body.check).toBeNull(); // stale: not run with check=stored
    expect(body.images.every((i: Json) => i.flags === null)).toBe(true);
    body = (await (await get("/api/datasets/set/images")).json()) as Json;
    expect(body.images.find((i: Json) => i.file === "rocket.png").flags).toEqual([]);
    expect(body.check.settings).toMatchObject({ minSide: 300 }); // the stored settings carry over
  });
});

describe("thumbnails and originals", () => {
  it("makes a thumbnail once, then serves it from the cache with ETag and Cache-Control", async () => {
    const before = thumbStats.rendered;
    const first = await get("/api/datasets/set/images/astronaut.png/thumb?size=128");
    expect(first.status).toBe(200);
    expect(first.headers.get("content-type")).toBe("image/jpeg");
    expect(first.headers.get("cache-control")).toMatch(/max-age/);
    const etag = first.headers.get("etag")!;
    const meta = await sharp(Buffer.from(await first.arrayBuffer())).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(["jpeg", 128, 128]);
    const cached = readdirSync(thumbs);
    expect(cached).toHaveLength(1);
    const mtime = statSync(join(thumbs, cached[0]!)).mtimeMs;

    const second = await get("/api/datasets/set/images/astronaut.png/thumb?size=128");
    expect(second.status).toBe(200);
    expect(second.headers.get("etag")).toBe(etag);
    expect(thumbStats.rendered).toBe(before + 1);
    expect(statSync(join(thumbs, cached[0]!)).mtimeMs).toBe(mtime);

    const revalidated = await get("/api/datasets/set/images/astronaut.png/thumb?size=128", {
      "if-none-match": etag,
    });
    expect(revalidated.status).toBe(304);

    const webp = await get("/api/datasets/set/images/astronaut.png/thumb?size=64&format=webp");
    expect(webp.headers.get("content-type")).toBe("image/webp");
    expect(thumbStats.rendered).toBe(before + 2);

    const odd = await get("/api/datasets/set/images/astronaut.png/thumb?size=100000");
    expect(odd.status).toBe(400);
    expect(((await odd.json()) as Json).error.field).toBe("size");
  });

  it("renders a new thumbnail when the image changes", async () => {
    await get("/api/datasets/set/images/camera.png/thumb");
    const before = thumbStats.rendered;
    writeFileSync(join(dir, "camera.png"), await sharp(photo("camera.png")).rotate(90).png().toBuffer());
    const after = await get("/api/datasets/set/images/camera.png/thumb");
    expect(after.status).toBe(200);
    expect(thumbStats.rendered).toBe(before + 1);
  });

  it("answers 422 for a thumbnail of an image that cannot be decoded", async () => {
    writeFileSync(join(dir, "broken.png"), photo("truncated.jpg"));
    const response = await get("/api/datasets/set/images/broken.png/thumb");
    expect(response.status).toBe(422);
    expect(((await response.json()) as Json).error.code).toBe("UNREADABLE_IMAGE");
  });

  it("serves the original with its type and an ETag", async () => {
    const response = await get("/api/datasets/set/images/chelsea.png");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("image/png");
    const bytes = Buffer.from(await response.arrayBuffer());
    expect(bytes.length).toBe(statSync(join(dir, "chelsea.png")).size);
    const again = await get("/api/datasets/set/images/chelsea.png", {
      "if-none-match": response.headers.get("etag")!,
    });
    expect(again.status).toBe(304);
    expect((await get("/api/datasets/set/images/missing.png")).status).toBe(404);
    expect((await get("/api/datasets/set/images/manifest.json")).status).toBe(404);
  });
});
