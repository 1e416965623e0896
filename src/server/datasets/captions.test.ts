import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { smallPng } from "../../../test/fixtures/bad-files/corpus.ts";
import { bearer, postJson, testServer, type TestServer } from "../test-support.ts";
import { createDataset, form, sendJson, upload, type Json } from "./testing.ts";

let server: TestServer;
let token: string;
let dir: string;

const CAPTIONS: Record<string, string> = {
  a: "ohwx, red hair, smile, outdoors",
  b: "ohwx, red hair, hat",
  c: "ohwx, smile, long hair, smile",
};

beforeEach(async () => {
  server = testServer();
  token = server.token("alice");
  dir = server.data.datasetDir(server.users.byName("alice")!.id, "set");
  await createDataset(server, token, "set");
  const files: [string, Buffer | string][] = [];
  for (const [stem, caption] of Object.entries(CAPTIONS)) {
    files.push(
      [`${stem}.png`, await smallPng(40, 40, `#${stem}${stem}0000`.slice(0, 7))],
      [`${stem}.txt`, caption],
    );
  }
  files.push(["d.png", await smallPng(40, 40, "#123456")]);
  expect((await upload(server, token, "set", form(files))).status).toBe(200);
});
afterEach(async () => {
  await server.close();
});

const caption = (stem: string) => readFileSync(join(dir, `${stem}.txt`), "utf8");
const tagsOp = (body: unknown) => server.app.request("/api/datasets/set/tags", postJson(token, body));
const undo = (body?: unknown) =>
  server.app.request(
    "/api/datasets/set/tags/undo",
    body === undefined ? bearer(token, { method: "POST" }) : postJson(token, body),
  );

describe("captions", () => {
  it("reads and replaces one caption; undo restores it", async () => {
    const read = (await (
      await server.app.request("/api/datasets/set/captions/a.png", bearer(token))
    ).json()) as Json;
    expect(read).toMatchObject({
      file: "a.png",
      caption_file: "a.txt",
      exists: true,
      tags: CAPTIONS.a!.split(", "),
    });
    const none = (await (
      await server.app.request("/api/datasets/set/captions/d.png", bearer(token))
    ).json()) as Json;
    expect(none).toMatchObject({ exists: false, text: "", tags: [] });

    const put = await server.app.request(
      "/api/datasets/set/captions/a.png",
      sendJson(token, "PUT", { tags: ["ohwx", "blue hair"] }),
    );
    expect(put.status).toBe(200);
    expect(await put.json()).toMatchObject({ text: "ohwx, blue hair", batch: 1 });
    expect(caption("a")).toBe("ohwx, blue hair");
    const text = await server.app.request(
      "/api/datasets/set/captions/d.png",
      sendJson(token, "PUT", { text: "ohwx,  new ,\nline" }),
    );
    expect(((await text.json()) as Json).tags).toEqual(["ohwx", "new", "line"]);

    expect((await undo()).status).toBe(200);
    expect((await undo()).status).toBe(200);
    expect(caption("a")).toBe(`${CAPTIONS.a}\n`);
    const gone = (await (
      await server.app.request("/api/datasets/set/captions/d.png", bearer(token))
    ).json()) as Json;
    expect(gone.exists).toBe(false);
    const nothing = await undo();
    expect(nothing.status).toBe(409);
    expect(((await nothing.json()) as Json).error.code).toBe("NOTHING_TO_UNDO");
  });

  it("refuses both or neither of tags/text, unknown fields, and a missing image", async () => {
    const both = await server.app.request(
      "/api/datasets/set/captions/a.png",
      sendJson(token, "PUT", { tags: [], text: "" }),
    );
    expect(both.status).toBe(400);
    const extra = await server.app.request(
      "/api/datasets/set/captions/a.png",
      sendJson(token, "PUT", { tags: [], mood: 1 }),
    );
    expect(extra.status).toBe(400);
    expect(((await extra.json()) as Json).error).toMatchObject({
      field: "mood",
      message: expect.stringMatching(/mood/),
    });
    const missing = await server.app.request(
      "/api/datasets/set/captions/zz.png",
      sendJson(token, "PUT", { tags: ["x"] }),
    );
    expect(missing.status).toBe(404);
  });
});

describe("bulk tag operations and undo", () => {
  it("counts tags, edits in bulk keeping the trigger first, and undo restores every caption", async () => {
    const freq = (await (
      await server.app.request("/api/datasets/set/tags?top=2", bearer(token))
    ).json()) as Json;
    expect(freq).toEqual({
      images: 4,
      tags: [
        { tag: "ohwx", images: 3, share: 0.75 },
        { tag: "red hair", images: 2, share: 0.5 },
      ],
    });

    const removed = (await (await tagsOp({ op: "remove", tags: ["red hair"] })).json()) as Json;
    expect(removed).toMatchObject({ matched: 4, changed: 2, batch: 1, keep_first: 1, trigger: "ohwx" });
    const sorted = (await (
      await tagsOp({ op: "sort", by: "alpha", filter: { any_of: ["smile"] } })
    ).json()) as Json;
    expect(sorted).toMatchObject({ matched: 2, batch: 2 });
    expect(caption("a")).toBe("ohwx, outdoors, smile");
    expect(caption("c")).toBe("ohwx, long hair, smile, smile");

    const dry = (await (await tagsOp({ op: "dedupe", dry_run: true })).json()) as Json;
    expect(dry).toMatchObject({
      changed: 1,
      batch: null,
      changes: [{ file: "c.png", after: ["ohwx", "long hair", "smile"] }],
    });
    expect(caption("c")).toBe("ohwx, long hair, smile, smile");

    const front = (await (await tagsOp({ op: "front", tags: ["smile"], keep_first: 0 })).json()) as Json;
    expect(front.changed).toBe(2);
    expect(caption("a")).toBe("smile, ohwx, outdoors");

    const replaced = (await (
      await tagsOp({ op: "replace", pattern: "^(.*) hair$", with: "$1-haired" })
    ).json()) as Json;
    expect(replaced.changed).toBe(1);
    expect(caption("c")).toBe("smile, ohwx, long-haired");

    for (let i = 0; i < 4; i++) expect((await undo()).status).toBe(200);
    for (const stem of ["a", "b", "c"]) expect(caption(stem)).toBe(`${CAPTIONS[stem]}\n`);
  });

  it("merges tags and truncates to a CLIP token budget", async () => {
    const merged = (await (
      await tagsOp({ op: "merge", tags: ["red hair", "smile"], into: "happy redhead" })
    ).json()) as Json;
    expect(merged.changes).toEqual([
      { file: "a.png", before: CAPTIONS.a!.split(", "), after: ["ohwx", "happy redhead", "outdoors"] },
    ]);
    const truncated = (await (await tagsOp({ op: "truncate", max_tokens: 4 })).json()) as Json;
    expect(truncated.changed).toBeGreaterThan(0);
    expect(caption("c")).toBe("ohwx, smile");
  });

  it("bakes the trigger, refuses a caption changed since (409) unless forced", async () => {
    const baked = (await (await tagsOp({ op: "bake", trigger: "sks", traits: ["red hair"] })).json()) as Json;
    expect(baked).toMatchObject({ changed: 4, traits: ["red hair"] }); // d had no caption: now "sks"
    expect(caption("b")).toBe("sks, ohwx, hat");
    writeFileSync(join(dir, "b.txt"), "changed by hand");
    const conflict = await undo();
    expect(conflict.status).toBe(409);
    expect(((await conflict.json()) as Json).error).toMatchObject({ code: "UNDO_CONFLICT" });
    expect((await undo({ force: true })).status).toBe(200);
    expect(caption("b")).toBe(`${CAPTIONS.b}\n`);
    const d = await server.app.request("/api/datasets/set/captions/d.png", bearer(token));
    expect(((await d.json()) as Json).exists).toBe(false); // the caption bake created is removed again
  });

  it("refuses unknown ops and fields, a bad regex and a half-given replace with 400", async () => {
    const unknown = await tagsOp({ op: "explode" });
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as Json).error.field).toBe("op");
    const extra = await tagsOp({ op: "add", tags: ["x"], colour: "red" });
    expect(extra.status).toBe(400);
    expect(((await extra.json()) as Json).error).toMatchObject({
      field: "colour",
      message: expect.stringMatching(/colour/),
    });
    const regex = await tagsOp({ op: "remove", patterns: ["(unclosed"] });
    expect(regex.status).toBe(400);
    expect(((await regex.json()) as Json).error).toMatchObject({ code: "BAD_REGEX" });
    const half = await tagsOp({ op: "replace", from: "smile" });
    expect(half.status).toBe(400);
    const malformed = await server.app.request(
      "/api/datasets/set/tags",
      bearer(token, { method: "POST", body: "{op", headers: { "content-type": "application/json" } }),
    );
    expect(malformed.status).toBe(400);
  });
});
