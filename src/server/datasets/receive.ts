import { createWriteStream, type WriteStream } from "node:fs";
import { join } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import busboy from "busboy";
import { sanitizeFileName } from "../../jobs/paths.ts";
import { ApiError } from "../http-error.ts";
import { formatBytes } from "../limits.ts";

/** A multipart/form-data body streamed to disk, one file per `files` part, limits enforced while reading. */

export interface SavedPart {
  /** The file name as the client sent it (a label only, never a path). */
  original: string;
  /** The sanitized name it was saved under, inside the upload folder. */
  saved: string;
  bytes: number;
}

export interface ReceiveLimits {
  maxFileBytes: number;
  maxRequestBytes: number;
  /** Bytes the user may still add (their quota minus what they use). */
  remainingUserBytes: number;
  maxUserBytes: number;
}

/** Text fields a caller accepts besides the files (e.g. a portrait's `params`), each at most `maxFieldBytes`. */
export interface ReceiveOptions {
  textFields?: readonly string[];
  /** @defaultValue 64 KiB */
  maxFieldBytes?: number;
}

export interface Received {
  parts: SavedPart[];
  /** The accepted text fields that were sent, by name (the last one wins when a name repeats). */
  fields: Record<string, string>;
}

const DEFAULT_MAX_FIELD_BYTES = 64 * 1024;

/** Parts one request may hold: a photo set is a few hundred files, or one zip. */
export const MAX_PARTS = 2000;
export const FILE_FIELD = "files";

export const requestTooLarge = (limit: number) =>
  new ApiError(413, "TOO_LARGE", `the request is over the ${formatBytes(limit)} limit per request`, {
    hint: "upload in several requests, or pack the photos into zips of fewer files",
  });

export const quotaExceeded = (limit: number) =>
  new ApiError(413, "TOO_LARGE", `this upload would take you over your ${formatBytes(limit)} storage limit`, {
    hint: "delete datasets or job outputs you no longer need, or ask an admin for more space",
  });

/** `name`, or `name-2.ext`, `name-3.ext`... when a part with the same sanitized name came first. */
function uniqueName(name: string, taken: Set<string>): string {
  const dot = name.lastIndexOf(".");
  const [stem, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ""];
  for (let n = 1; ; n++) {
    const candidate = n === 1 ? name : `${stem}-${n}${ext}`;
    if (!taken.has(candidate.toLowerCase())) {
      taken.add(candidate.toLowerCase());
      return candidate;
    }
  }
}

/**
 * Streams every `files` part of the request into `dir` (which exists and is empty), and collects the text
 * fields `options.textFields` names. Rejects, after every file it opened is closed, on the first broken
 * limit (413 naming it), any other field or a malformed body (400). The caller removes `dir` either way.
 */
export function receiveFiles(
  request: Request,
  dir: string,
  limits: ReceiveLimits,
  options: ReceiveOptions = {},
): Promise<Received> {
  const textFields = options.textFields ?? [];
  const maxFieldBytes = options.maxFieldBytes ?? DEFAULT_MAX_FIELD_BYTES;
  const contentType = request.headers.get("content-type") ?? "";
  if (!/^multipart\/form-data/iu.test(contentType) || !request.body) {
    throw new ApiError(415, "UNSUPPORTED_MEDIA_TYPE", "upload as multipart/form-data", {
      hint: `send one or more '${FILE_FIELD}' parts (images, caption .txt files or .zip archives)`,
    });
  }
  let parser: busboy.Busboy;
  try {
    parser = busboy({
      headers: { "content-type": contentType },
      limits: {
        fileSize: limits.maxFileBytes,
        fieldSize: maxFieldBytes,
        parts: MAX_PARTS,
        files: MAX_PARTS,
        fields: MAX_PARTS,
      },
      defParamCharset: "utf8",
      preservePath: true,
    });
  } catch (error) {
    throw new ApiError(400, "BAD_REQUEST", `malformed multipart body: ${(error as Error).message}`);
  }
  const source = Readable.fromWeb(request.body as WebReadableStream<Uint8Array>);
  const parts: SavedPart[] = [];
  const fields: Record<string, string> = {};
  const writes: Promise<void>[] = [];
  const open: (Readable | WriteStream)[] = [];
  const taken = new Set<string>();
  let received = 0;
  let written = 0;
  let failure: Error | undefined;

  return new Promise<Received>((resolve, reject) => {
    let settled = false;
    const settle = () => {
      if (settled) return;
      settled = true;
      void Promise.allSettled(writes).then(() => (failure ? reject(failure) : resolve({ parts, fields })));
    };
    const fail = (error: Error) => {
      failure ??= error;
      source.destroy();
      for (const stream of open) stream.destroy();
      settle();
    };
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        received += chunk.length;
        if (received > limits.maxRequestBytes) return done(requestTooLarge(limits.maxRequestBytes));
        done(null, chunk);
      },
    });

    parser.on("file", (field, stream, info) => {
      const original = info.filename ?? "";
      stream.on("error", () => undefined); // a part cut off by a failure elsewhere: that failure is the answer
      if (failure) return void stream.resume();
      if (field !== FILE_FIELD) {
        stream.resume();
        return fail(
          new ApiError(400, "BAD_REQUEST", `unknown form field '${field}'`, {
            field,
            hint: `send each file as a '${FILE_FIELD}' part`,
          }),
        );
      }
      const saved = uniqueName(sanitizeFileName(original), taken);
      const out = createWriteStream(join(dir, saved), { flags: "wx" });
      open.push(stream, out);
      let bytes = 0;
      stream.on("data", (chunk: Buffer) => {
        bytes += chunk.length;
        written += chunk.length;
        if (written > limits.remainingUserBytes) fail(quotaExceeded(limits.maxUserBytes));
      });
      stream.on("limit", () =>
        fail(
          new ApiError(
            413,
            "TOO_LARGE",
            `file '${original}' is over the ${formatBytes(limits.maxFileBytes)} limit per file`,
            { hint: "resize it, or split a zip into smaller ones" },
          ),
        ),
      );
      writes.push(
        pipeline(stream, out).then(
          () => void parts.push({ original, saved, bytes }),
          (error: Error) => fail(error),
        ),
      );
    });
    parser.on("field", (field, value, info) => {
      if (!textFields.includes(field)) {
        return fail(
          new ApiError(400, "BAD_REQUEST", `unknown form field '${field}' (not a file)`, {
            field,
            hint: `send each file as a '${FILE_FIELD}' part with a file name`,
          }),
        );
      }
      if (info.valueTruncated) {
        return fail(
          new ApiError(413, "TOO_LARGE", `field '${field}' is over the ${formatBytes(maxFieldBytes)} limit`, {
            field,
            hint: "send a shorter value",
          }),
        );
      }
      fields[field] = value;
    });
    const tooMany = () =>
      fail(
        new ApiError(413, "TOO_LARGE", `more than ${MAX_PARTS} parts in one request`, { hint: "zip them" }),
      );
    parser.on("partsLimit", tooMany);
    parser.on("filesLimit", tooMany);
    parser.on("fieldsLimit", tooMany);
    parser.on("close", settle);
    pipeline(source, counter, parser).catch((error: Error) =>
      fail(
        error instanceof ApiError
          ? error
          : new ApiError(400, "BAD_REQUEST", `malformed multipart body: ${error.message}`),
      ),
    );
  });
}
