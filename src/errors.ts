/**
 * The one error class a user sees. Library code throws it with a message that says what was wrong and
 * where (file, line, key), and a hint that says what to do; only the CLI turns it into an exit code.
 */
export class DanluError extends Error {
  readonly code: string;
  readonly hint: string | undefined;
  readonly exitCode: number;

  constructor(
    message: string,
    options: { code?: string; hint?: string; exitCode?: number; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "DanluError";
    this.code = options.code ?? "ERROR";
    this.hint = options.hint;
    this.exitCode = options.exitCode ?? 1;
  }
}

/** Formats any thrown value for a person: DanluError as message + hint, anything else with its stack. */
export function formatError(error: unknown, verbose = false): string {
  if (error instanceof DanluError) {
    const lines = [`error: ${error.message}`];
    if (error.hint) lines.push(`hint: ${error.hint}`);
    if (verbose && error.cause instanceof Error && error.cause.stack) lines.push(error.cause.stack);
    return lines.join("\n");
  }
  if (error instanceof Error) {
    return verbose || !error.message
      ? `internal error: ${error.stack ?? error.message}`
      : `internal error: ${error.message}\n(run with DANLU_DEBUG=1 for the stack trace, and please report it)`;
  }
  return `internal error: ${String(error)}`;
}
