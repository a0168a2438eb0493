import { SwitchboardError } from '../errors.ts';

/**
 * Why an outbound webhook POST failed. `retryable` tells the outbox whether to try again later
 * (a network blip, a timeout) or to dead-letter now (a refused or invalid URL cannot get better
 * by waiting). Messages name the URL's origin only, never its path or query (a Slack or Discord
 * webhook URL carries its secret in the path) and never a request header (the signature).
 */
export type DispatchErrorCode =
  | 'ssrf_refused'
  | 'url_invalid'
  | 'timeout'
  | 'response_too_large'
  | 'too_many_redirects'
  | 'network';

const STATUS: Record<DispatchErrorCode, number> = {
  ssrf_refused: 400,
  url_invalid: 400,
  timeout: 504,
  response_too_large: 502,
  too_many_redirects: 502,
  network: 502,
};

export class DispatchError extends SwitchboardError {
  declare readonly code: DispatchErrorCode;
  readonly retryable: boolean;
  constructor(
    code: DispatchErrorCode,
    message: string,
    retryable: boolean,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(code, message, { status: STATUS[code], ...options });
    this.retryable = retryable;
  }
}

/** "connect ECONNREFUSED 127.0.0.1:7301": the code and the syscall, not the stack. */
export function rootCause(error: unknown): string {
  let current = error as { message?: unknown; cause?: unknown } | undefined;
  while (current?.cause instanceof Error) current = current.cause as typeof current;
  return String(current?.message ?? error);
}
