import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { open, rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { DanluError } from "../errors.ts";
import { DTYPE_BYTES, decodeValues, isDtype, writerOrder, type Dtype } from "./dtypes.ts";

/**
 * safetensors files: 8 bytes little-endian header length N, N bytes of JSON
 * ({"__metadata__": {string: string}, name: {dtype, shape, data_offsets: [begin, end]}}, padded with
 * spaces), then the tensor data; offsets count from the first byte after the header.
 */
export interface TensorEntry {
  dtype: Dtype;
  shape: number[];
  data_offsets: [number, number];
}

export interface SafetensorsHeader {
  path: string;
  fileSize: number;
  /** Where the data section starts: 8 + header length. */
  dataStart: number;
  metadata: Record<string, string>;
  tensors: Record<string, TensorEntry>;
}

/** The safetensors library refuses headers above 100 MB; so does this reader. */
const MAX_HEADER_BYTES = 100_000_000;

function notSafetensors(path: string, why: string, hint?: string): DanluError {
  return new DanluError(`${path} is not a safetensors file: ${why}`, {
    code: "NOT_SAFETENSORS",
    hint: hint ?? "check that the file is a .safetensors file and finished downloading",
  });
}

function truncated(path: string, expected: number, actual: number): DanluError {
  return new DanluError(`${path} is truncated: it needs ${expected} bytes but has ${actual}`, {
    code: "TRUNCATED",
    hint: "download or copy the file again",
  });
}

function checkEntry(
  path: string,
  name: string,
  raw: unknown,
  dataBytes: number,
  fileSize: number,
): TensorEntry {
  const entry = raw as Partial<TensorEntry> | null;
  const bad = (why: string): DanluError => notSafetensors(path, `tensor ${name}: ${why}`);
  if (typeof entry !== "object" || entry === null) throw bad("entry is not an object");
  if (typeof entry.dtype !== "string" || !isDtype(entry.dtype))
    throw bad(`unknown dtype ${String(entry.dtype)}`);
  const shape = entry.shape;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) throw bad("bad shape");
  const [begin, end] = entry.data_offsets ?? [];
  if (!Number.isInteger(begin) || !Number.isInteger(end) || (begin as number) > (end as number)) {
    throw bad("bad data_offsets");
  }
  const elements = shape.reduce((a, b) => a * b, 1);
  if ((end as number) - (begin as number) !== elements * DTYPE_BYTES[entry.dtype]) {
    throw bad(`data_offsets ${begin}..${end} do not fit shape [${shape.join(", ")}] of ${entry.dtype}`);
  }
  if ((end as number) > dataBytes) throw truncated(path, fileSize - dataBytes + (end as number), fileSize);
  return { dtype: entry.dtype, shape, data_offsets: [begin as number, end as number] };
}

/** Reads the header only (a few KB), however large the file; checks it against the file's size. */
export async function readSafetensorsHeader(path: string): Promise<SafetensorsHeader> {
  const handle = await open(path, "r").catch((error: NodeJS.ErrnoException) => {
    throw new DanluError(`cannot open ${path}: ${error.code === "ENOENT" ? "no such file" : error.message}`, {
      code: "FILE_NOT_FOUND",
      cause: error,
    });
  });
  try {
    const fileSize = (await handle.stat()).size;
    if (fileSize < 8) throw notSafetensors(path, `only ${fileSize} bytes`);
    const prefix = Buffer.alloc(8);
    await handle.read(prefix, 0, 8, 0);
    if (prefix[0] === 0x50 && prefix[1] === 0x4b) {
      throw notSafetensors(
        path,
        "it is a zip archive (a PyTorch .ckpt?)",
        "danlu model info reads .ckpt checkpoints",
      );
    }
    const headerBytes = prefix.readBigUInt64LE(0);
    if (headerBytes > BigInt(MAX_HEADER_BYTES) || headerBytes < 2n) {
      throw notSafetensors(path, `the first 8 bytes give a header length of ${headerBytes}`);
    }
    const dataStart = 8 + Number(headerBytes);
    if (dataStart > fileSize) throw truncated(path, dataStart, fileSize);
    const headerBuffer = Buffer.alloc(Number(headerBytes));
    await handle.read(headerBuffer, 0, headerBuffer.length, 8);
    return parseHeader(path, headerBuffer, dataStart, fileSize);
  } finally {
    await handle.close();
  }
}

function parseHeader(path: string, buffer: Buffer, dataStart: number, fileSize: number): SafetensorsHeader {
  let json: unknown;
  try {
    json = JSON.parse(buffer.toString("utf8"));
  } catch {
    throw notSafetensors(path, "the header is not valid JSON");
  }
  if (typeof json !== "object" || json === null || Array.isArray(json))
    throw notSafetensors(path, "the header is not an object");
  const { __metadata__: rawMetadata, ...rawTensors } = json as Record<string, unknown>;
  const metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries((rawMetadata ?? {}) as Record<string, unknown>)) {
    if (typeof value !== "string") throw notSafetensors(path, `metadata ${key} is not a string`);
    metadata[key] = value;
  }
  const tensors: Record<string, TensorEntry> = {};
  for (const [name, raw] of Object.entries(rawTensors)) {
    tensors[name] = checkEntry(path, name, raw, fileSize - dataStart, fileSize);
  }
  return { path, fileSize, dataStart, metadata, tensors };
}

/** The raw bytes of the named tensors, read through one open file (only those tensors' bytes). */
export async function readTensorsBytes(
  header: SafetensorsHeader,
  names: string[],
): Promise<Map<string, Uint8Array>> {
  const result = new Map<string, Uint8Array>();
  const handle = await open(header.path, "r");
  try {
    for (const name of names) {
      const entry = header.tensors[name];
      if (!entry) throw new DanluError(`${header.path} has no tensor ${name}`, { code: "NO_TENSOR" });
      const [begin, end] = entry.data_offsets;
      const bytes = new Uint8Array(end - begin);
      await handle.read(bytes, 0, bytes.length, header.dataStart + begin);
      result.set(name, bytes);
    }
  } finally {
    await handle.close();
  }
  return result;
}

/** The named tensors' values as numbers, in row-major order. */
export async function readTensorsValues(
  header: SafetensorsHeader,
  names: string[],
): Promise<Map<string, number[]>> {
  const values = new Map<string, number[]>();
  for (const [name, bytes] of await readTensorsBytes(header, names)) {
    values.set(name, decodeValues((header.tensors[name] as TensorEntry).dtype, bytes));
  }
  return values;
}

/** sha256 (hex) of everything after the header: what sd-scripts stores as sshs_model_hash. */
export async function hashSafetensorsData(header: SafetensorsHeader): Promise<string> {
  const hash = createHash("sha256");
  if (header.fileSize > header.dataStart) {
    for await (const chunk of createReadStream(header.path, { start: header.dataStart }))
      hash.update(chunk as Buffer);
  }
  return hash.digest("hex");
}

export interface TensorToWrite {
  dtype: Dtype;
  shape: number[];
  data: Uint8Array;
}

/** The bytes of a safetensors file: tensors in the Python writer's order, header padded to 8 bytes. */
export function serializeSafetensors(
  tensors: Record<string, TensorToWrite>,
  metadata: Record<string, string> = {},
): Buffer {
  const ordered = Object.entries(tensors)
    .map(([name, t]) => ({ name, ...t }))
    .sort(writerOrder);
  const header: Record<string, unknown> = Object.keys(metadata).length > 0 ? { __metadata__: metadata } : {};
  let offset = 0;
  for (const t of ordered) {
    const expected = t.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[t.dtype];
    if (t.data.byteLength !== expected) {
      throw new Error(
        `tensor ${t.name}: ${t.data.byteLength} bytes for shape [${t.shape.join(", ")}] of ${t.dtype}`,
      );
    }
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + expected] };
    offset += expected;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  return Buffer.concat([length, Buffer.from(json, "utf8"), ...ordered.map((t) => t.data)]);
}

/** Writes a safetensors file atomically: a temp file in the same folder, then a rename. */
export async function writeSafetensors(
  path: string,
  tensors: Record<string, TensorToWrite>,
  metadata: Record<string, string> = {},
): Promise<void> {
  const bytes = serializeSafetensors(tensors, metadata);
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(4).toString("hex")}.tmp`);
  try {
    await writeFile(temp, bytes);
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}
