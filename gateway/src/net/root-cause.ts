/**
 * "connect ECONNREFUSED 127.0.0.1:7301": the code and the syscall, not the stack. Shared by the
 * outbound clients (outbox/http-post.ts, net/ssrf.ts) and the egress proxy's refusals.
 */
export function rootCause(error: unknown): string {
  let current = error as { message?: unknown; cause?: unknown } | undefined;
  while (current?.cause instanceof Error) current = current.cause as typeof current;
  return String(current?.message ?? error);
}
