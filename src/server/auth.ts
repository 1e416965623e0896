import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { MiddlewareHandler } from "hono";
import { ApiError } from "./http-error.ts";
import type { User, UserStore } from "./users.ts";

export interface AuthVariables {
  user: User;
}

/** How long a signed event-stream token lives (EventSource cannot send an Authorization header). */
export const STREAM_TOKEN_TTL_MS = 5 * 60_000;

/** The server's HMAC key for stream tokens: DATA/secret.key, made once with mode 0600. */
export function loadSecret(dataRoot: string): Buffer {
  const path = join(dataRoot, "secret.key");
  if (!existsSync(path)) {
    try {
      writeFileSync(path, randomBytes(32).toString("hex"), { mode: 0o600, flag: "wx" });
    } catch {
      // another process made it first: read theirs
    }
  }
  return Buffer.from(readFileSync(path, "utf8").trim(), "hex");
}

function sign(secret: Buffer, payload: string): string {
  return createHmac("sha256", secret).update(payload).digest("base64url");
}

/** A token that lets one user read one job's events until it expires. */
export function makeStreamToken(secret: Buffer, userId: string, jobId: string, now = Date.now()): string {
  const payload = Buffer.from(JSON.stringify({ u: userId, j: jobId, e: now + STREAM_TOKEN_TTL_MS })).toString(
    "base64url",
  );
  return `${payload}.${sign(secret, payload)}`;
}

/** The user id a stream token grants for `jobId`, or null (bad signature, other job, expired). */
export function checkStreamToken(
  secret: Buffer,
  token: string,
  jobId: string,
  now = Date.now(),
): string | null {
  const [payload, mac] = token.split(".");
  if (!payload || !mac) return null;
  const expected = Buffer.from(sign(secret, payload));
  const given = Buffer.from(mac);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return null;
  try {
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as {
      u: string;
      j: string;
      e: number;
    };
    return claims.j === jobId && claims.e > now ? claims.u : null;
  } catch {
    return null;
  }
}

const STREAM_PATH = /^\/api\/jobs\/([^/]+)\/events$/;

/**
 * Every /api route but /api/health needs `Authorization: Bearer <token>`; a job's event stream also
 * takes `?token=` from POST /api/jobs/:id/stream-token.
 */
export function authMiddleware(
  users: UserStore,
  secret: Buffer,
): MiddlewareHandler<{ Variables: AuthVariables }> {
  return async (c, next) => {
    if (c.req.path === "/api/health") return next();
    const header = c.req.header("authorization") ?? "";
    const bearer = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
    let user = bearer ? users.authenticate(bearer) : null;
    const streamJob = STREAM_PATH.exec(c.req.path)?.[1];
    const queryToken = c.req.query("token");
    if (!user && !bearer && streamJob && queryToken) {
      const userId = checkStreamToken(secret, queryToken, streamJob);
      const found = userId ? users.byId(userId) : null;
      user = found && found.revokedAt === null ? found : null;
    }
    if (!user) {
      throw new ApiError(
        401,
        "UNAUTHORIZED",
        bearer ? "the token is not valid (revoked or mistyped)" : "no token",
        {
          hint: "send 'Authorization: Bearer <token>'; an admin makes one with: danlu users add NAME",
        },
      );
    }
    c.set("user", user);
    return next();
  };
}
