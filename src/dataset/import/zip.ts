import { posix } from "node:path";
import type { Readable } from "node:stream";
import yauzl from "yauzl";
import type { Rejection, SourceFile } from "./sources.ts";

/** Zip-bomb guards. A photo dataset zip is a few hundred entries of already-compressed images. */
export interface ZipLimits {
  /** Most entries one archive may list. @defaultValue 10,000 */
  maxEntries: number;
  /** Most bytes all entries together may declare uncompressed. @defaultValue 4 GiB */
  maxTotalBytes: number;
  /** Most bytes one entry may declare uncompressed. @defaultValue 512 MiB */
  maxEntryBytes: number;
  /**
   * Highest uncompressed/compressed ratio for an entry over 1 MiB. JPEG/PNG/WebP barely compress
   * (ratio ~1); DEFLATE tops out near 1032:1, which only runs of identical bytes reach.
   * @defaultValue 100
   */
  maxRatio: number;
}

export const DEFAULT_ZIP_LIMITS: ZipLimits = {
  maxEntries: 10_000,
  maxTotalBytes: 4 * 1024 ** 3,
  maxEntryBytes: 512 * 1024 ** 2,
  maxRatio: 100,
};

const RATIO_CHECK_MIN_BYTES = 1024 ** 2;

export interface ZipListing {
  files: SourceFile[];
  rejected: Rejection[];
  close(): void;
}

/**
 * Lists a zip archive's file entries without extracting anything. Entry names are only ever used as
 * labels and name hints, never as paths to write to; unsafe ones are still rejected so the report shows
 * the archive was hostile. A limit broken by the archive as a whole rejects the whole archive.
 */
export async function listZip(zipPath: string, limits: ZipLimits): Promise<ZipListing> {
  const zip = await yauzl.openPromise(zipPath, {
    lazyEntries: true,
    autoClose: false,
    decodeStrings: false, // names are decoded and checked here, so one bad name cannot abort the listing
    validateEntrySizes: true,
  });
  const label = (name: string): string => `${zipPath}:${name}`;
  const whole = (reason: string): ZipListing => {
    zip.close();
    return { files: [], rejected: [{ origin: zipPath, reason }], close: () => {} };
  };
  if (zip.entryCount > limits.maxEntries) {
    return whole(`zip bomb guard: ${zip.entryCount} entries (limit ${limits.maxEntries})`);
  }
  const entries = await readAllEntries(zip);
  const total = entries.reduce((sum, entry) => sum + entry.uncompressedSize, 0);
  if (total > limits.maxTotalBytes) {
    return whole(`zip bomb guard: ${total} bytes uncompressed (limit ${limits.maxTotalBytes})`);
  }
  const files: SourceFile[] = [];
  const rejected: Rejection[] = [];
  for (const entry of entries) {
    const name = entryName(entry);
    if (name.endsWith("/")) continue; // a folder entry
    const problem = entryProblem(name, entry, limits);
    if (problem) {
      rejected.push({ origin: label(name), reason: problem });
      continue;
    }
    files.push({
      origin: label(name),
      relativeName: name,
      size: entry.uncompressedSize,
      read: () => readEntry(zip, entry),
    });
  }
  return { files, rejected, close: () => zip.close() };
}

function readAllEntries(zip: yauzl.ZipFile): Promise<yauzl.Entry[]> {
  return new Promise((resolve, reject) => {
    const entries: yauzl.Entry[] = [];
    zip.on("entry", (entry: yauzl.Entry) => {
      entries.push(entry);
      zip.readEntry();
    });
    zip.on("end", () => resolve(entries));
    zip.on("error", reject);
    zip.readEntry();
  });
}

function entryName(entry: yauzl.Entry): string {
  const raw = entry.fileName as unknown as Buffer;
  return yauzl.getFileNameLowLevel(entry.generalPurposeBitFlag, raw, entry.extraFields, false);
}

function entryProblem(name: string, entry: yauzl.Entry, limits: ZipLimits): string | undefined {
  const normalised = name.replaceAll("\\", "/");
  if (/^[a-zA-Z]:/.test(normalised) || normalised.startsWith("/")) return "unsafe zip entry: absolute path";
  if (normalised.split("/").includes("..")) return "unsafe zip entry: path with '..'";
  if (entry.uncompressedSize > limits.maxEntryBytes) {
    return `zip bomb guard: entry is ${entry.uncompressedSize} bytes uncompressed (limit ${limits.maxEntryBytes})`;
  }
  if (entry.uncompressedSize > RATIO_CHECK_MIN_BYTES) {
    const ratio = entry.uncompressedSize / Math.max(1, entry.compressedSize);
    if (ratio > limits.maxRatio) {
      return `zip bomb guard: compression ratio ${Math.round(ratio)}:1 (limit ${limits.maxRatio}:1)`;
    }
  }
  if (entry.isEncrypted()) return "encrypted zip entry";
  return undefined;
}

/** Reads one entry; yauzl checks that the bytes match the declared size, so a lying header fails here. */
async function readEntry(zip: yauzl.ZipFile, entry: yauzl.Entry): Promise<Buffer> {
  const stream: Readable = await zip.openReadStreamPromise(entry);
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of stream) {
    length += (chunk as Buffer).length;
    if (length > entry.uncompressedSize) {
      stream.destroy();
      throw new Error("entry is larger than its header says");
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, length);
}

export function isZipPath(path: string): boolean {
  return posix.extname(path.toLowerCase()) === ".zip";
}
