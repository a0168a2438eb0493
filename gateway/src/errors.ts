import { ERRORS, type ErrorCode } from './error-codes.ts';

export { ERROR_CODES, ERRORS, type ErrorCode, isErrorCode, JSON_RPC } from './error-codes.ts';

/**
 * The one error class. `code` is stable (clients and tests match on it) and decides the rest:
 * the HTTP status, the JSON-RPC code and whether a background job retries come from its row in
 * ERRORS (error-codes.ts), never from the throw site. `message` is safe to show to whoever made
 * the request: never put a secret, a stack or a SQL text in it. Anything that is not a
 * SwitchboardError is answered as a generic 500 and only logged.
 */
export class SwitchboardError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly jsonRpc: number;
  /** false: trying the same job again cannot help (a refusal, an invalid answer). */
  readonly retryable: boolean;
  /** What the CLI exits with when it stops on this error (EXIT.usage or EXIT.failure). */
  readonly exitCode: 1 | 2;
  /** Extra machine-readable facts for the JSON body (validation issues, limits). */
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    const facts = ERRORS[code];
    this.status = facts.status;
    this.jsonRpc = facts.jsonRpc;
    this.retryable = facts.retryable;
    this.exitCode = facts.exit;
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
    super('usage', message);
    this.usage = usage;
  }
}

/**
 * The `error` member of a JSON-RPC answer the gateway writes itself (the SDK writes its own from
 * a thrown ProtocolError: mcp/errors.ts protocolError): the code's JSON-RPC number, the code
 * first in `data`.
 */
export const jsonRpcErrorOf = (
  code: ErrorCode,
  message: string,
  data: Record<string, unknown> = {},
) => ({ code: ERRORS[code].jsonRpc, message, data: { code, ...data } });

export const notFound = (message: string) => new SwitchboardError('not_found', message);

export const badRequest = (message: string, details?: Record<string, unknown>) =>
  new SwitchboardError('bad_request', message, { details });

/** Exit codes the CLI and the process use. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;
