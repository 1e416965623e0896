// The one way the UI talks to the server: the HTTP API with the signed-in user's token. Errors keep the
// API's shape ({code, message, hint, field}) so a page can show them next to what caused them.

export interface ApiErrorBody {
  code: string;
  message: string;
  hint?: string;
  field?: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: ApiErrorBody,
  ) {
    super(body.message);
    this.name = "ApiError";
  }
}

const TOKEN_KEY = "danlu.token";

export function getToken(): string | null {
  return localStorage.getItem(TOKEN_KEY);
}

export function setToken(token: string | null): void {
  if (token) localStorage.setItem(TOKEN_KEY, token);
  else localStorage.removeItem(TOKEN_KEY);
}

async function toError(response: Response): Promise<ApiError> {
  try {
    const body = (await response.json()) as { error?: ApiErrorBody };
    if (body.error) return new ApiError(response.status, body.error);
  } catch {
    // not JSON: fall through
  }
  return new ApiError(response.status, { code: `HTTP_${response.status}`, message: response.statusText });
}

/** fetch with the token; throws ApiError for any non-2xx answer. */
export async function request(path: string, init: RequestInit = {}): Promise<Response> {
  const token = getToken();
  const headers = new Headers(init.headers);
  if (token) headers.set("authorization", `Bearer ${token}`);
  const response = await fetch(path, { ...init, headers });
  if (!response.ok) throw await toError(response);
  return response;
}

export async function getJson<T>(path: string): Promise<T> {
  return (await (await request(path)).json()) as T;
}

export async function sendJson<T>(path: string, body: unknown, method = "POST"): Promise<T> {
  const response = await request(path, {
    method,
    body: JSON.stringify(body),
    headers: { "content-type": "application/json" },
  });
  return (await response.json()) as T;
}

/** A file download URL can't carry a header: fetch it as a blob and hand it to the browser. */
export async function download(path: string, name: string): Promise<void> {
  const blob = await (await request(path)).blob();
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** An image the API serves (thumbnails, samples): fetched with the token, shown from an object URL. */
export async function imageUrl(path: string): Promise<string> {
  return URL.createObjectURL(await (await request(path)).blob());
}

export interface Job {
  id: string;
  owner: string;
  kind: string;
  params: Record<string, unknown>;
  state: "queued" | "running" | "succeeded" | "failed" | "cancelled";
  stage: string | null;
  priority: number;
  attempts: number;
  progress: { stage: string; step?: number; total?: number; detail?: Record<string, number | string> } | null;
  result: unknown;
  error: ApiErrorBody | null;
  cancel_requested: boolean;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  timings: { wait_s: number | null; run_s: number | null };
}

export interface JobEvent {
  id: number;
  type: string;
  data: Record<string, unknown>;
}

/**
 * Follows a job's event stream (EventSource with a short-lived stream token); reconnects on its own and
 * resumes after the last event seen. Returns a function that stops it.
 */
export function followJob(
  jobId: string,
  onEvent: (event: JobEvent) => void,
  onEnd: (job: Job | null) => void,
): () => void {
  let source: EventSource | null = null;
  let stopped = false;
  let lastId = 0;
  const types = ["state", "stage", "progress", "engine", "log", "result", "error"];
  const open = async (): Promise<void> => {
    const { token } = await sendJson<{ token: string }>(`/api/jobs/${jobId}/stream-token`, {});
    if (stopped) return;
    source = new EventSource(
      `/api/jobs/${jobId}/events?token=${encodeURIComponent(token)}&last_event_id=${lastId}`,
    );
    for (const type of types) {
      source.addEventListener(type, (message) => {
        const event = message as MessageEvent<string>;
        lastId = Number(event.lastEventId) || lastId;
        onEvent({ id: lastId, type, data: JSON.parse(event.data) as Record<string, unknown> });
      });
    }
    source.addEventListener("end", (message) => {
      source?.close();
      onEnd(JSON.parse((message as MessageEvent<string>).data) as Job | null);
    });
    source.onerror = () => {
      // the stream token may have expired: reopen with a new one after a pause
      source?.close();
      if (!stopped) setTimeout(() => void open().catch(() => undefined), 2000);
    };
  };
  void open().catch(() => undefined);
  return () => {
    stopped = true;
    source?.close();
  };
}
