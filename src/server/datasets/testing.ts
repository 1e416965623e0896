import { readFileSync } from "node:fs";
import { join } from "node:path";
import { PHOTOS } from "../../../test/fixtures/bad-files/corpus.ts";
import { bearer, postJson, type TestServer } from "../test-support.ts";

/** Helpers for the dataset route tests (not a test file itself). */

export { PHOTOS };

export function photo(name: string): Buffer {
  return readFileSync(join(PHOTOS, name));
}

/** A multipart body: each [file name as sent, bytes] becomes one part (field `files` unless given). */
export function form(files: [string, Buffer | string][], field = "files"): FormData {
  const body = new FormData();
  for (const [name, data] of files) body.append(field, new Blob([data]), name);
  return body;
}

export async function upload(
  server: TestServer,
  token: string,
  dataset: string,
  body: FormData,
  headers: Record<string, string> = {},
): Promise<Response> {
  return server.app.request(
    `/api/datasets/${encodeURIComponent(dataset)}/upload`,
    bearer(token, { method: "POST", body, headers }),
  );
}

export async function createDataset(server: TestServer, token: string, name: string): Promise<void> {
  const response = await server.app.request("/api/datasets", postJson(token, { name }));
  if (response.status !== 201) throw new Error(`create ${name}: ${response.status} ${await response.text()}`);
}

export function sendJson(token: string, method: string, body: unknown): RequestInit {
  return bearer(token, {
    method,
    body: JSON.stringify(body),
    headers: { "content-type": "application/json" },
  });
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;
