import { postJson } from './http-post.ts';
import { signedHeaders } from './sign.ts';
import type { PostWebhook } from './worker.ts';

/**
 * The outbox worker's webhook sender: the SSRF-guarded POST (http-post.ts: every hop's address
 * checked, 10 s, 1 MiB answer) signed with Standard Webhooks when the target has a secret. The
 * allow list is read per call, so a policy reload applies to the next attempt.
 */
export function createPostWebhook(allowHosts: () => readonly string[]): PostWebhook {
  return async ({ url, body, secret, messageId }) => {
    const result = await postJson({
      url,
      body,
      headers: secret ? signedHeaders(secret, messageId, body) : { 'webhook-id': messageId },
      allowHosts: allowHosts(),
    });
    return {
      status: result.status,
      body: result.body,
      ...(result.retryAfterMs !== undefined && { retryAfterMs: result.retryAfterMs }),
    };
  };
}
