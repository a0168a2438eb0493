import { type ErrorCode, SwitchboardError } from '../errors.ts';

/**
 * Why an outbound webhook POST failed: a SwitchboardError with one of these codes. Its
 * `retryable` (error-codes.ts) tells the outbox whether to try again later (a network blip, a
 * timeout) or to dead-letter now (a refused or invalid URL cannot get better by waiting).
 * Messages name the URL's origin only, never its path or query (a Slack or Discord webhook URL
 * carries its secret in the path) and never a request header (the signature).
 */
export const POST_FAILURE_CODES = [
  'ssrf_refused',
  'url_invalid',
  'timeout',
  'response_too_large',
  'too_many_redirects',
  'network',
] as const satisfies readonly ErrorCode[];

export type PostFailureCode = (typeof POST_FAILURE_CODES)[number];

/** A failure of the HTTP client itself (http-post.ts, net/ssrf.ts), not of what it was given. */
export function isPostFailure(
  error: unknown,
): error is SwitchboardError & { readonly code: PostFailureCode } {
  return (
    error instanceof SwitchboardError &&
    (POST_FAILURE_CODES as readonly string[]).includes(error.code)
  );
}
