import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { HTTPException } from "hono/http-exception";
import { DanluError } from "../errors.ts";

/** The one error shape every route answers with. */
export interface ErrorBody {
  error: { code: string; message: string; hint?: string; field?: string };
}

/** A request the API refuses, with the status it answers. */
export class ApiError extends DanluError {
  readonly status: ContentfulStatusCode;
  readonly field: string | undefined;

  constructor(
    status: ContentfulStatusCode,
    code: string,
    message: string,
    options: { hint?: string; field?: string } = {},
  ) {
    super(message, { code, ...(options.hint ? { hint: options.hint } : {}) });
    this.name = "ApiError";
    this.status = status;
    this.field = options.field;
  }
}

/** Library error codes that mean something other than 400. */
const STATUS_BY_CODE: Record<string, ContentfulStatusCode> = {
  NOT_FOUND: 404,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  TOO_LARGE: 413,
  CONFLICT: 409,
};

function bodyOf(code: string, message: string, hint?: string, field?: string): ErrorBody {
  return {
    error: { code, message, ...(hint ? { hint } : {}), ...(field !== undefined ? { field } : {}) },
  };
}

/** The top-level handler: ApiError/DanluError keep their code and hint; anything else is logged, a 500. */
export function errorResponse(error: unknown, c: Context): Response {
  if (error instanceof ApiError) {
    return c.json(bodyOf(error.code, error.message, error.hint, error.field), error.status);
  }
  if (error instanceof DanluError) {
    return c.json(bodyOf(error.code, error.message, error.hint), STATUS_BY_CODE[error.code] ?? 400);
  }
  if (error instanceof HTTPException) {
    const status = error.status as ContentfulStatusCode;
    const code = status === 413 ? "TOO_LARGE" : status === 401 ? "UNAUTHORIZED" : "BAD_REQUEST";
    const hint = /JSON/i.test(error.message)
      ? "send a JSON body with content-type application/json"
      : undefined;
    return c.json(bodyOf(code, error.message || "bad request", hint), status);
  }
  console.error(`internal error on ${c.req.method} ${c.req.path}:`, error);
  return c.json(bodyOf("INTERNAL", "internal server error", "the server's log has the details"), 500);
}

/** zod issues as one ApiError naming the first field (an unknown key is named itself). */
export function validationError(
  issues: readonly { path: readonly PropertyKey[]; message: string; code?: string; keys?: string[] }[],
  where: string,
): ApiError {
  const first = issues[0];
  if (!first) return new ApiError(400, "BAD_REQUEST", `${where} is invalid`);
  const unknown = first.code === "unrecognized_keys" && first.keys?.[0] !== undefined;
  const path = unknown ? [...first.path, first.keys![0]!] : first.path;
  const field = path.map(String).join(".");
  const message = unknown
    ? `${where}: unknown field '${field}'`
    : `${where}${field ? ` field '${field}'` : ""}: ${first.message}`;
  return new ApiError(400, "BAD_REQUEST", message, {
    field,
    hint: unknown
      ? "remove it or fix its spelling; /api/openapi.json lists the fields"
      : "see /api/openapi.json for the schema",
  });
}
