// Helpers for end-to-end tests through a real `danlu serve` on a port and real `danlu worker` processes.
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { REPO_ROOT } from "../src/engine/python.ts";
import { runCli } from "./cli.ts";

export interface ServeProcess {
  url: string;
  child: ChildProcess;
  stderr: () => string;
  stop(): Promise<void>;
}

function danlu(args: string[]): ChildProcess {
  return spawn(process.execPath, [join(REPO_ROOT, "bin", "danlu.js"), ...args], {
    env: { ...process.env, FORCE_COLOR: "0" },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

function stopChild(child: ChildProcess, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill(signal);
  });
}

/** Starts `danlu serve --port 0 ...` and resolves with the URL it prints. */
export function startServe(args: string[]): Promise<ServeProcess> {
  const child = danlu(["serve", "--port", "0", ...args]);
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      out += chunk;
      const url = /^(http:\/\/\S+)$/m.exec(out)?.[1];
      if (url) resolve({ url, child, stderr: () => stderr, stop: () => stopChild(child) });
    });
    child.once("exit", (code) => reject(new Error(`danlu serve exited (${code}):\n${stderr}`)));
  });
}

export interface WorkerProcess {
  child: ChildProcess;
  stderr: () => string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts `danlu worker ...` (stop it with SIGKILL to play a lost node). */
export function startWorker(args: string[]): WorkerProcess {
  const child = danlu(["worker", "--cpu", ...args]);
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  child.stdout!.resume();
  return { child, stderr: () => stderr, stop: (signal) => stopChild(child, signal) };
}

export async function addUser(data: string, name: string): Promise<string> {
  const result = await runCli(["users", "add", name, "--data", data]);
  if (result.code !== 0) throw new Error(result.stderr);
  return result.stdout.trim();
}

export class Api {
  constructor(
    readonly url: string,
    readonly token: string,
  ) {}

  async request(path: string, init: RequestInit = {}): Promise<Response> {
    return fetch(`${this.url}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${this.token}`, ...(init.headers as Record<string, string>) },
    });
  }

  async json<T = Record<string, unknown>>(path: string, init: RequestInit = {}): Promise<T> {
    const response = await this.request(path, init);
    const body = (await response.json()) as T;
    if (!response.ok)
      throw new Error(`${init.method ?? "GET"} ${path}: ${response.status} ${JSON.stringify(body)}`);
    return body;
  }

  post<T = Record<string, unknown>>(path: string, body: unknown): Promise<T> {
    return this.json<T>(path, {
      method: "POST",
      body: JSON.stringify(body),
      headers: { "content-type": "application/json" },
    });
  }

  /** Reads a job's event stream to its `end`, calling onEvent for each; returns every event. */
  async events(
    jobId: string,
    onEvent: (event: SseEvent) => void = () => undefined,
    lastEventId = 0,
  ): Promise<SseEvent[]> {
    const response = await this.request(`/api/jobs/${jobId}/events`, {
      headers: lastEventId ? { "last-event-id": String(lastEventId) } : {},
    });
    if (!response.ok || !response.body) throw new Error(`events: ${response.status}`);
    const events: SseEvent[] = [];
    const decoder = new TextDecoder();
    let buffer = "";
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = parseBlock(block);
        if (!event) continue;
        events.push(event);
        onEvent(event);
        if (event.event === "end") return events;
      }
    }
    return events;
  }

  async waitFor(jobId: string, states: string[], timeoutMs = 600_000): Promise<Record<string, unknown>> {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      const job = await this.json(`/api/jobs/${jobId}`);
      if (states.includes(job.state as string)) return job;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error(`job ${jobId} did not reach ${states.join("/")} in ${timeoutMs} ms`);
  }
}

export interface SseEvent {
  id?: number;
  event: string;
  data: Record<string, unknown>;
}

function parseBlock(block: string): SseEvent | null {
  if (block.startsWith(":")) return null;
  const fields: Record<string, string> = {};
  for (const line of block.split("\n")) {
    const at = line.indexOf(":");
    if (at > 0) fields[line.slice(0, at)] = line.slice(at + 1).trimStart();
  }
  if (!fields.data) return null;
  return {
    ...(fields.id ? { id: Number(fields.id) } : {}),
    event: fields.event ?? "message",
    data: JSON.parse(fields.data) as Record<string, unknown>,
  };
}
