import type { Policy } from '@switchboard/policy';
import { RateLimiter } from '../rate-limit.ts';
import type { SignatureScheme } from './signatures.ts';

/**
 * How many requests a minute each webhook endpoint stores (token buckets, bursts up to the same
 * number; in memory per gateway, so N replicas take up to N times as many). The policy's
 * `integrations.<name>.webhooks.requestsPerMinute` sets it for every endpoint of the
 * integration; unset, an unsigned endpoint (scheme none: anyone on the internet can post) takes
 * UNSIGNED_PER_MINUTE and a signed one SIGNED_PER_MINUTE. A signed request is counted only once
 * its signature holds, so forged requests cannot use up the sender's budget; each endpoint has
 * its own bucket, so a flood of one cannot starve the integration's others.
 */

/** One a second on average, 60 at once: a form or a monitoring ping, not a flood. */
export const UNSIGNED_PER_MINUTE = 60;
/**
 * 100 a second on average, 6,000 at once: far above a busy GitHub organisation or Slack
 * workspace (Slack's Events API sends at most 30,000 an hour per workspace).
 */
export const SIGNED_PER_MINUTE = 6_000;

export interface IngressVerdict {
  perMinute: number;
  /** 0: take the request; else the seconds until one would be taken (Retry-After). */
  retryAfterS: number;
}

export class IngressLimit {
  private readonly limiter = new RateLimiter(10_000);

  take(
    policy: Policy | undefined,
    integration: string,
    endpoint: string,
    scheme: SignatureScheme,
  ): IngressVerdict {
    const perMinute =
      policy?.integrations[integration]?.webhooks?.requestsPerMinute ??
      (scheme === 'none' ? UNSIGNED_PER_MINUTE : SIGNED_PER_MINUTE);
    return { perMinute, retryAfterS: this.limiter.take(`${integration}/${endpoint}`, perMinute) };
  }
}
