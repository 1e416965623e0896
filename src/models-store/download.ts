import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { open, rename, stat } from "node:fs/promises";
import { pipeline } from "node:stream/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { DanluError } from "../errors.ts";

/**
 * One file from a URL into `dest`, through `dest.part`: an interrupted download (network error or a
 * later run) resumes from the bytes already there with an HTTP Range request; the finished file is
 * checked against the expected size and sha256 before it takes its final name. A file that fails the
 * check is moved aside to `dest.bad`, never left where it could be loaded.
 */
export interface DownloadOptions {
  url: string;
  dest: string;
  size?: number | undefined;
  sha256?: string | undefined;
  onProgress?: (received: number, total: number | undefined) => void;
  /** Resumes after a broken connection, this many times (default 3). */
  retries?: number;
  /** Wait before a resume, in ms, multiplied by the attempt number (default 1000). */
  retryDelayMs?: number;
  /** A server that sends no response headers within this many ms counts as unreachable (default 30000). */
  responseTimeoutMs?: number;
}

/** No HTTP answer at all: refused, unknown host (DNS), reset before the headers, or timed out. */
class ConnectError extends Error {
  constructor(
    readonly host: string,
    readonly reason: string,
    cause: unknown,
  ) {
    super(`could not reach ${host} (${reason})`, { cause });
  }
}

export interface DownloadResult {
  size: number;
  sha256: string;
  /** Bytes that were already in the .part file when this call started. */
  resumedFrom: number;
}

export async function downloadFile(o: DownloadOptions): Promise<DownloadResult> {
  const part = `${o.dest}.part`;
  const resumedFrom = await sizeOf(part);
  const retries = o.retries ?? 3;
  for (let attempt = 0; ; attempt++) {
    try {
      await fetchIntoPart(o, part);
      break;
    } catch (error) {
      // A host that cannot be reached at first is reported at once; a connection lost mid-file is retried.
      const unreachable = error instanceof ConnectError && attempt === 0 && (await sizeOf(part)) === 0;
      if (error instanceof DanluError || unreachable || attempt >= retries)
        throw await asDownloadError(error, o.url, part);
      await sleep((o.retryDelayMs ?? 1000) * (attempt + 1));
    }
  }
  return verifyAndPlace(o, part, resumedFrom);
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

/** One request; appends to the .part file when the server honours the Range request. */
async function fetchIntoPart(o: DownloadOptions, part: string): Promise<void> {
  const offset = await sizeOf(part);
  if (o.size !== undefined && offset === o.size) return;
  const response = await connect(o, offset > 0 ? { Range: `bytes=${offset}-` } : {});
  if (response.status === 416 && offset > 0) return; // nothing left to send: the .part is whole
  if (!response.ok || !response.body) {
    const retryable = response.status >= 500 || response.status === 408 || response.status === 429;
    const message = `HTTP ${response.status} ${response.statusText} from ${o.url}`;
    if (retryable) throw new Error(message);
    throw new DanluError(message, {
      hint: "check the model name and your network or proxy",
      code: "DOWNLOAD",
    });
  }
  const resumes = response.status === 206 && contentRangeStart(response) === offset;
  const total = expectedTotal(response, resumes ? offset : 0) ?? o.size;
  let received = resumes ? offset : 0;
  // Each chunk is on disk before the next is read, so whatever arrived before a failure is kept.
  const file = await open(part, resumes ? "a" : "w");
  try {
    for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
      await file.write(chunk);
      received += chunk.length;
      o.onProgress?.(received, total);
    }
  } finally {
    await file.close();
  }
  if (total !== undefined && received < total)
    throw new Error(`connection closed at ${received} of ${total} bytes`);
}

/** fetch() up to the response headers; a failure before them is a ConnectError. */
async function connect(o: DownloadOptions, headers: Record<string, string>): Promise<Response> {
  const controller = new AbortController();
  const timeoutMs = o.responseTimeoutMs ?? 30_000;
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    return await fetch(o.url, { headers, signal: controller.signal });
  } catch (error) {
    const reason = controller.signal.aborted
      ? `no answer within ${timeoutMs / 1000} s`
      : (errorCode(error) ?? innermostMessage(error));
    throw new ConnectError(new URL(o.url).host, reason, error);
  } finally {
    clearTimeout(timer);
  }
}

/** ECONNREFUSED, ENOTFOUND, UND_ERR_CONNECT_TIMEOUT...: undici puts the system error in `cause`. */
function errorCode(error: unknown): string | undefined {
  for (let e = error; e instanceof Error; e = e.cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") return code;
    if (e instanceof AggregateError) return errorCode(e.errors[0]);
  }
  return undefined;
}

/** undici's "fetch failed" says nothing: the reason is in its innermost cause ("bad port", ...). */
function innermostMessage(error: unknown): string {
  let e = error as Error;
  while (e.cause instanceof Error) e = e.cause;
  return e.message;
}

function contentRangeStart(response: Response): number | undefined {
  const match = /bytes (\d+)-/.exec(response.headers.get("content-range") ?? "");
  return match ? Number(match[1]) : undefined;
}

function expectedTotal(response: Response, offset: number): number | undefined {
  const range = /\/(\d+)$/.exec(response.headers.get("content-range") ?? "");
  if (range) return Number(range[1]);
  const length = response.headers.get("content-length");
  return length === null ? undefined : offset + Number(length);
}

/**
 * The error a person reads. An unreachable host is code UNREACHABLE (callers add the ways round it);
 * resuming is suggested only when a .part file with some bytes in it is there to resume from.
 */
async function asDownloadError(error: unknown, url: string, part: string): Promise<DanluError> {
  if (error instanceof DanluError) return error;
  const kept = await sizeOf(part);
  const resume = kept > 0 ? `run the same command again to resume from ${part} (${kept} bytes)` : undefined;
  if (error instanceof ConnectError) {
    return new DanluError(`${error.message} to download ${url}`, {
      ...(resume ? { hint: `${resume} once it can be reached` } : {}),
      code: "UNREACHABLE",
      cause: error,
    });
  }
  const reason = (error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : "";
  return new DanluError(
    `download of ${url} failed: ${(error as Error).message}${reason ? ` (${reason})` : ""}`,
    { hint: resume ?? "run the same command again", code: "DOWNLOAD", cause: error },
  );
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  await pipeline(createReadStream(path), hash);
  return hash.digest("hex");
}

async function verifyAndPlace(
  o: DownloadOptions,
  part: string,
  resumedFrom: number,
): Promise<DownloadResult> {
  const size = await sizeOf(part);
  const sha256 = await sha256File(part);
  const wrongSize = o.size !== undefined && size !== o.size;
  const wrongHash = o.sha256 !== undefined && sha256 !== o.sha256.toLowerCase();
  if (wrongSize || wrongHash) {
    const aside = `${o.dest}.bad`;
    await rename(part, aside);
    const found = wrongSize
      ? `${size} bytes instead of ${o.size}`
      : `sha256 ${sha256} instead of ${o.sha256}`;
    throw new DanluError(`${o.url} gave ${found}; the file was moved aside to ${aside}`, {
      hint: "pull again to download it afresh; if it keeps happening, the file on the hub has changed",
      code: "CHECKSUM",
    });
  }
  await rename(part, o.dest);
  return { size, sha256, resumedFrom };
}
