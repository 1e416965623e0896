import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeValues } from "./dtypes.ts";
import {
  hashSafetensorsData,
  readSafetensorsHeader,
  readTensorsValues,
  serializeSafetensors,
  writeSafetensors,
  type TensorToWrite,
} from "./safetensors.ts";

const PYTHON = resolve(import.meta.dirname, "../../.venv/bin/python");
const run = promisify(execFile);

async function python(code: string): Promise<string> {
  return (await run(PYTHON, ["-c", code])).stdout;
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "danlu-st-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const tensors: Record<string, TensorToWrite> = {
  "b.weight": { dtype: "F16", shape: [2, 3], data: encodeValues("F16", [1, 2, 3, -1, 0.5, 0]) },
  "a.weight": { dtype: "F32", shape: [3], data: encodeValues("F32", [0.25, -4, 8]) },
  "c.alpha": { dtype: "BF16", shape: [], data: encodeValues("BF16", [16]) },
  "d.steps": { dtype: "I64", shape: [1], data: encodeValues("I64", [7]) },
};

describe("safetensors read/write", () => {
  it("round-trips tensors and metadata, leaving no temp file", async () => {
    const own = await mkdtemp(join(dir, "round-"));
    const path = join(own, "round.safetensors");
    await writeSafetensors(path, tensors, { ss_network_dim: "4", note: "é" });
    expect(await readdir(own)).toEqual(["round.safetensors"]);
    const header = await readSafetensorsHeader(path);
    expect(header.metadata).toEqual({ ss_network_dim: "4", note: "é" });
    expect(header.tensors["b.weight"]).toMatchObject({ dtype: "F16", shape: [2, 3] });
    expect(header.dataStart % 8).toBe(0);
    const values = await readTensorsValues(header, ["a.weight", "b.weight", "c.alpha", "d.steps"]);
    expect(values.get("a.weight")).toEqual([0.25, -4, 8]);
    expect(values.get("b.weight")).toEqual([1, 2, 3, -1, 0.5, 0]);
    expect(values.get("c.alpha")).toEqual([16]);
    expect(values.get("d.steps")).toEqual([7]);
  });

  it("hashes exactly the bytes after the header", async () => {
    const bytes = serializeSafetensors(tensors);
    const path = join(dir, "hash.safetensors");
    await writeFile(path, bytes);
    const header = await readSafetensorsHeader(path);
    const expected = createHash("sha256").update(bytes.subarray(header.dataStart)).digest("hex");
    expect(await hashSafetensorsData(header)).toBe(expected);
  });
});

describe("interop with Python's safetensors (one Python run)", () => {
  const ours = (): string => join(dir, "ours.safetensors");
  const theirs = (): string => join(dir, "theirs.safetensors");
  const fromPython = (): string => join(dir, "py.safetensors");
  let report: { loaded: Record<string, unknown>; meta: Record<string, string>; hash: string };

  beforeAll(async () => {
    await writeSafetensors(ours(), tensors, { a: "1" });
    const out = await python(`
import torch, json, hashlib
from safetensors.torch import load_file, save_file
from safetensors import safe_open
t = load_file(${JSON.stringify(ours())})
with safe_open(${JSON.stringify(ours())}, "pt") as f: meta = f.metadata()
save_file(t, ${JSON.stringify(theirs())}, metadata={"a": "1"})
torch.manual_seed(0)
save_file({"x": torch.randn(4, 5).half(), "y": torch.arange(6, dtype=torch.float32)}, ${JSON.stringify(fromPython())}, {"k": "v"})
b = open(${JSON.stringify(fromPython())}, "rb").read()
n = int.from_bytes(b[:8], "little")
loaded = {k: [str(v.dtype), list(v.shape), v.float().flatten().tolist()] for k, v in t.items()}
print(json.dumps({"loaded": loaded, "meta": meta, "hash": hashlib.sha256(b[8 + n:]).hexdigest()}))
`);
    report = JSON.parse(out) as typeof report;
  });

  it("loads what danlu writes", () => {
    expect(report.loaded).toEqual({
      "a.weight": ["torch.float32", [3], [0.25, -4, 8]],
      "b.weight": ["torch.float16", [2, 3], [1, 2, 3, -1, 0.5, 0]],
      "c.alpha": ["torch.bfloat16", [], [16]],
      "d.steps": ["torch.int64", [1], [7]],
    });
    expect(report.meta).toEqual({ a: "1" });
  });

  it("writes the same bytes danlu writes for the same tensors", async () => {
    const [mine, python_] = [await readFile(ours()), await readFile(theirs())];
    expect(mine.equals(python_)).toBe(true); // tensor order, offsets, header JSON and padding all agree
  });

  it("is read by danlu, and its data hashes like sd-scripts' sshs_model_hash", async () => {
    const header = await readSafetensorsHeader(fromPython());
    expect(header.metadata).toEqual({ k: "v" });
    expect(header.tensors.x).toMatchObject({ dtype: "F16", shape: [4, 5] });
    expect((await readTensorsValues(header, ["y"])).get("y")).toEqual([0, 1, 2, 3, 4, 5]);
    expect(await hashSafetensorsData(header)).toBe(report.hash);
  });
});

describe("safetensors errors", () => {
  it("says a truncated file is truncated, with the sizes", async () => {
    const path = join(dir, "cut.safetensors");
    await writeSafetensors(path, tensors);
    const full = (await readFile(path)).length;
    await truncate(path, full - 5);
    await expect(readSafetensorsHeader(path)).rejects.toThrow(
      `is truncated: it needs ${full} bytes but has ${full - 5}`,
    );
    await truncate(path, 20);
    await expect(readSafetensorsHeader(path)).rejects.toThrow(/is truncated/);
  });

  it("says what a file is when it is not safetensors", async () => {
    const text = join(dir, "notes.txt");
    await writeFile(text, "hello, this is not a tensor file at all");
    await expect(readSafetensorsHeader(text)).rejects.toThrow(
      /notes\.txt is not a safetensors file: the first 8 bytes/,
    );
    const zip = join(dir, "model.ckpt");
    await writeFile(zip, Buffer.from("PK\x03\x04 pickled archive bytes"));
    await expect(readSafetensorsHeader(zip)).rejects.toThrow(/zip archive \(a PyTorch \.ckpt\?\)/);
    const tiny = join(dir, "tiny.safetensors");
    await writeFile(tiny, "abc");
    await expect(readSafetensorsHeader(tiny)).rejects.toThrow(/only 3 bytes/);
    await expect(readSafetensorsHeader(join(dir, "missing.safetensors"))).rejects.toThrow(/no such file/);
  });

  it("rejects a header whose offsets do not fit the shape", async () => {
    const json = Buffer.from(JSON.stringify({ t: { dtype: "F32", shape: [2], data_offsets: [0, 4] } }));
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(json.length));
    const path = join(dir, "bad.safetensors");
    await writeFile(path, Buffer.concat([length, json, Buffer.alloc(8)]));
    await expect(readSafetensorsHeader(path)).rejects.toThrow(
      /tensor t: data_offsets 0\.\.4 do not fit shape \[2\] of F32/,
    );
  });
});
