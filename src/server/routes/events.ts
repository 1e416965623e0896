import { createRoute, z } from "@hono/zod-openapi";
import { streamSSE } from "hono/streaming";
import { JobEventReader } from "../../jobs/events.ts";
import type { JobState } from "../../jobs/types.ts";
import { visibleJob } from "../access.ts";
import type { App, AppDeps } from "../app.ts";
import { makeStreamToken, STREAM_TOKEN_TTL_MS } from "../auth.ts";
import { ERRORS, JobIdParam, jobView } from "../schemas.ts";

/** How often an open stream looks for new lines (ms); the job's state is read every STATE_EVERY polls. */
const POLL_MS = 250;
const STATE_EVERY = 4;
/** A comment line this often keeps proxies from closing an idle stream (ms). */
export const HEARTBEAT_MS = 15_000;

const FINAL: readonly JobState[] = ["succeeded", "failed", "cancelled"];

export function registerEventRoutes(app: App, deps: AppDeps): void {
  const { queue, data } = deps;
  const events = createRoute({
    method: "get",
    path: "/api/jobs/{id}/events",
    summary:
      "server-sent events: state, stage, progress (every engine step), engine (phase, sample, checkpoint, " +
      "validation, log), log, result, error; then `end` with the job. Reconnect with Last-Event-ID (or " +
      "?last_event_id=) to miss nothing. EventSource: pass ?token= from POST /api/jobs/{id}/stream-token.",
    request: {
      params: JobIdParam,
      query: z.object({
        token: z.string().optional().describe("a stream token (instead of the Authorization header)"),
        last_event_id: z.coerce.number().int().min(0).optional(),
      }),
    },
    responses: {
      200: { description: "text/event-stream", content: { "text/event-stream": { schema: z.string() } } },
      ...ERRORS,
    },
  });
  app.openapi(events, async (c) => {
    const job = await visibleJob(queue, c.get("user"), c.req.valid("param").id);
    const header = Number(c.req.header("last-event-id"));
    const lastId =
      Number.isInteger(header) && header > 0 ? header : (c.req.valid("query").last_event_id ?? 0);
    const reader = new JobEventReader(data.eventsPath(job.owner, job.id));
    return streamSSE(c, async (stream) => {
      let open = true;
      stream.onAbort(() => {
        open = false;
      });
      let beat = Date.now();
      for (let poll = 0; open; poll += 1) {
        for (const event of reader.readNew(lastId)) {
          await stream.writeSSE({
            id: String(event.id),
            event: event.type,
            data: JSON.stringify({ ...event.data, at: event.at }),
          });
        }
        if (poll % STATE_EVERY === 0) {
          const now = await queue.get(job.id);
          if (!now || FINAL.includes(now.state)) {
            // the worker writes its last events before the queue records the end: read once more, then stop
            for (const event of reader.readNew(lastId)) {
              await stream.writeSSE({
                id: String(event.id),
                event: event.type,
                data: JSON.stringify({ ...event.data, at: event.at }),
              });
            }
            await stream.writeSSE({ event: "end", data: JSON.stringify(now ? jobView(now) : null) });
            return;
          }
        }
        if (Date.now() - beat >= HEARTBEAT_MS) {
          await stream.write(": heartbeat\n\n");
          beat = Date.now();
        }
        await stream.sleep(POLL_MS);
      }
    });
  });

  const token = createRoute({
    method: "post",
    path: "/api/jobs/{id}/stream-token",
    summary: `a token for this job's event stream only, valid ${STREAM_TOKEN_TTL_MS / 60_000} minutes (EventSource sends no headers)`,
    request: { params: JobIdParam },
    responses: {
      200: {
        description: "the token and the URL to open",
        content: {
          "application/json": {
            schema: z.object({ token: z.string(), expires_at: z.string(), url: z.string() }),
          },
        },
      },
      ...ERRORS,
    },
  });
  app.openapi(token, async (c) => {
    const user = c.get("user");
    const job = await visibleJob(queue, user, c.req.valid("param").id);
    const value = makeStreamToken(deps.secret, user.id, job.id);
    return c.json(
      {
        token: value,
        expires_at: new Date(Date.now() + STREAM_TOKEN_TTL_MS).toISOString(),
        url: `/api/jobs/${job.id}/events?token=${encodeURIComponent(value)}`,
      },
      200,
    );
  });
}
