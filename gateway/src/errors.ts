/**
 * The one error base class. `code` is stable (clients and tests match on it), `status` is the
 * HTTP status it maps to, and `message` is safe to show to whoever made the request: never put a
 * secret, a stack or a SQL text in it. Anything that is not a SwitchboardError is answered as a
 * generic 500 and only logged.
 */
export class SwitchboardError extends Error {
  readonly code: string;
  readonly status: number;
  /** Extra machine-readable facts for the JSON body (validation issues, limits). */
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: string,
    message: string,
    options: { status?: number; cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = options.status ?? 500;
    this.details = options.details;
  }
}

/** A bad environment: boot stops with exit code 2. */
export class ConfigError extends SwitchboardError {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(
      'config_invalid',
      `invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${problems.map((p) => `  ${p}`).join('\n')}`,
    );
    this.problems = problems;
  }
}

/** A command line that does not parse: the CLI prints the usage and exits 2. */
export class UsageError extends SwitchboardError {
  readonly usage: string;
  constructor(message: string, usage: string) {
    super('usage', message, { status: 400 });
    this.usage = usage;
  }
}

export const notFound = (message: string) =>
  new SwitchboardError('not_found', message, { status: 404 });

export const badRequest = (message: string, details?: Record<string, unknown>) =>
  new SwitchboardError('bad_request', message, { status: 400, details });

/** Exit codes the CLI and the process use. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;
