import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DanluError } from "../errors.ts";
import { downloadFile } from "./download.ts";
import { startFileServer, type FileServer } from "./testing/file-server.ts";

// 256 KiB of varied bytes: large enough that half of it spans several network chunks.
const content = Uint8Array.from({ length: 256 * 1024 }, (_, i) => (i * 31 + (i >> 8)) % 251);
const sha = createHash("sha256").update(content).digest("hex");

let server: FileServer;
let ignoring: FileServer;
let dir: string;

beforeAll(async () => {
  server = await startFileServer({ files: { "/model.onnx": content } });
  ignoring = await startFileServer({ files: { "/model.onnx": content }, ignoreRange: true });
});
afterAll(async () => {
  await server.close();
  await ignoring.close();
});
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "danlu-download-"));
  server.ranges.length = 0;
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const dest = () => join(dir, "model.onnx");

describe("downloadFile", () => {
  it("downloads, checks size and sha256, reports progress, leaves no .part", async () => {
    const progress: number[] = [];
    const result = await downloadFile({
      url: `${server.url}/model.onnx`,
      dest: dest(),
      size: content.length,
      sha256: sha,
      onProgress: (received, total) => {
        progress.push(received);
        expect(total).toBe(content.length);
      },
    });
    expect(result).toEqual({ size: content.length, sha256: sha, resumedFrom: 0 });
    expect(Buffer.compare(await readFile(dest()), content)).toBe(0);
    expect(progress.at(-1)).toBe(content.length);
    expect(existsSync(`${dest()}.part`)).toBe(false);
  });

  it("resumes with a Range request after the connection drops mid-file", async () => {
    server.cutNext(1);
    const result = await downloadFile({
      url: `${server.url}/model.onnx`,
      dest: dest(),
      sha256: sha,
      retryDelayMs: 0,
    });
    expect(result.sha256).toBe(sha);
    expect(server.ranges[0]).toBe("");
    expect(server.ranges[1]).toMatch(/^bytes=\d+-$/);
    expect(Number(/\d+/.exec(server.ranges[1] ?? "")?.[0])).toBeGreaterThan(0);
    expect(Buffer.compare(await readFile(dest()), content)).toBe(0);
  });

  it("keeps the .part of an interrupted run and a later run resumes from it", async () => {
    server.cutNext(1);
    const first = await downloadFile({ url: `${server.url}/model.onnx`, dest: dest(), retries: 0 }).catch(
      (e) => e,
    );
    expect(first).toBeInstanceOf(DanluError);
    expect(first.hint).toMatch(/run the same command again to resume from .*model\.onnx\.part \(\d+ bytes\)/);
    const kept = (await stat(`${dest()}.part`)).size;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(content.length);

    const second = await downloadFile({ url: `${server.url}/model.onnx`, dest: dest(), sha256: sha });
    expect(second.resumedFrom).toBe(kept);
    expect(server.ranges.at(-1)).toBe(`bytes=${kept}-`);
    expect(Buffer.compare(await readFile(dest()), content)).toBe(0);
  });

  it("starts over when the server ignores the Range request", async () => {
    await writeFile(`${dest()}.part`, content.subarray(0, 1000));
    const result = await downloadFile({ url: `${ignoring.url}/model.onnx`, dest: dest(), sha256: sha });
    expect(result.size).toBe(content.length);
    expect(Buffer.compare(await readFile(dest()), content)).toBe(0);
  });

  it("rejects a wrong checksum: nothing at dest, the bytes moved aside", async () => {
    const wrong = "0".repeat(64);
    const attempt = downloadFile({ url: `${server.url}/model.onnx`, dest: dest(), sha256: wrong });
    await expect(attempt).rejects.toThrow(DanluError);
    await expect(attempt).rejects.toThrow(/sha256 [0-9a-f]{64} instead of 0{64}; the file was moved aside/);
    expect(existsSync(dest())).toBe(false);
    expect(existsSync(`${dest()}.part`)).toBe(false);
    expect((await stat(`${dest()}.bad`)).size).toBe(content.length);
  });

  it("rejects a file of the wrong size", async () => {
    const attempt = downloadFile({ url: `${server.url}/model.onnx`, dest: dest(), size: 1234 });
    await expect(attempt).rejects.toThrow(/262144 bytes instead of 1234/);
  });

  it("fails at once on a 404, without retrying", async () => {
    const attempt = downloadFile({ url: `${server.url}/nope.onnx`, dest: dest(), retryDelayMs: 0 });
    await expect(attempt).rejects.toThrow(/HTTP 404/);
    expect(server.ranges).toHaveLength(1);
  });

  it("says plainly that a refused host could not be reached, with no .part to resume", async () => {
    const closed = createServer();
    await new Promise<void>((ready) => closed.listen(0, "127.0.0.1", ready));
    const { port } = closed.address() as AddressInfo;
    await new Promise((done) => closed.close(done));
    const error = await downloadFile({ url: `http://127.0.0.1:${port}/model.onnx`, dest: dest() }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DanluError);
    expect((error as DanluError).code).toBe("UNREACHABLE");
    expect((error as DanluError).message).toBe(
      `could not reach 127.0.0.1:${port} (ECONNREFUSED) to download http://127.0.0.1:${port}/model.onnx`,
    );
    expect((error as DanluError).hint).toBeUndefined();
    expect(existsSync(`${dest()}.part`)).toBe(false);
  });

  it("counts a server that never answers as unreachable after the response timeout", async () => {
    const silent = createServer(() => {});
    await new Promise<void>((ready) => silent.listen(0, "127.0.0.1", ready));
    const { port } = silent.address() as AddressInfo;
    const attempt = downloadFile({ url: `http://127.0.0.1:${port}/m`, dest: dest(), responseTimeoutMs: 200 });
    await expect(attempt).rejects.toThrow(/could not reach 127\.0\.0\.1:\d+ \(no answer within 0\.2 s\)/);
    silent.closeAllConnections();
    await new Promise((done) => silent.close(done));
  });
});
