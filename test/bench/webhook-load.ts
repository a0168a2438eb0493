/**
 * webhook-bench.ts's load generator. Senders are raw node:http requests on keep-alive
 * connections (one per sender); every body and its X-Hub-Signature-256 are computed before the
 * timed window, so the generator's HMAC (~10 µs each) is not in the loop, and every answer's
 * status is checked (only 202 counts as acknowledged). What a leg cost is read by measure.ts.
 */

import http from 'node:http';
import { githubHeaders } from '../helpers/webhooks.ts';

export interface Signed {
  deliveryId: string;
  body: Buffer;
  headers: Record<string, string>;
}

/** `count` signed github deliveries; each body asks the hooks fixture for one trigger. */
export function signDeliveries(secret: string, prefix: string, count: number): Signed[] {
  const out: Signed[] = new Array(count);
  for (let n = 0; n < count; n++) {
    const deliveryId = `${prefix}-${n}`;
    const body = JSON.stringify({
      triggers: [
        {
          session: { key: `hooks:${deliveryId}`, dispatch: { type: 'none' } },
          message: `bench ${n}`,
          run: true,
        },
      ],
    });
    const headers = githubHeaders(secret, body, deliveryId, 'push');
    out[n] = {
      deliveryId,
      body: Buffer.from(body),
      headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
    };
  }
  return out;
}

export function post(
  agent: http.Agent,
  url: URL,
  d: Signed,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        headers: d.headers,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          text += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(d.body);
  });
}

export interface LegResult {
  acked: number;
  errors: number;
  seconds: number;
  /** Latency of each acknowledged request, ms, sorted. */
  latencies: Float64Array;
  /** How many pre-signed deliveries ran out (the leg ended early if > 0). */
  exhausted: boolean;
}

/** `concurrency` closed-loop senders for `seconds`, each on its own keep-alive connection. */
export async function closedLoop(
  url: URL,
  deliveries: Signed[],
  concurrency: number,
  seconds: number,
  /** The answer that counts: 202, or 200 for a leg of repeated (duplicate) deliveries. */
  ok = 202,
): Promise<LegResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const lat = new Float64Array(deliveries.length);
  let next = 0;
  let acked = 0;
  let errors = 0;
  const started = performance.now();
  const end = started + seconds * 1000;
  const sender = async () => {
    while (performance.now() < end && next < deliveries.length) {
      const d = deliveries[next++]!;
      const t0 = performance.now();
      try {
        const res = await post(agent, url, d);
        if (res.status === ok) lat[acked++] = performance.now() - t0;
        else errors++;
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, sender));
  const elapsed = (performance.now() - started) / 1000;
  agent.destroy();
  return {
    acked,
    errors,
    seconds: elapsed,
    latencies: lat.slice(0, acked).sort(),
    exhausted: next >= deliveries.length,
  };
}

/** Open loop: one delivery every 1000/rate ms, not waiting for answers; the ack latencies. */
export async function paced(url: URL, deliveries: Signed[], rate: number): Promise<LegResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const lat: number[] = [];
  let errors = 0;
  const started = performance.now();
  const inFlight: Promise<void>[] = [];
  for (let n = 0; n < deliveries.length; n++) {
    const due = started + (n * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const t0 = performance.now();
    inFlight.push(
      post(agent, url, deliveries[n]!).then(
        (res) => void (res.status === 202 ? lat.push(performance.now() - t0) : errors++),
        () => void errors++,
      ),
    );
  }
  await Promise.all(inFlight);
  agent.destroy();
  const latencies = Float64Array.from(lat).sort();
  return {
    acked: lat.length,
    errors,
    seconds: (performance.now() - started) / 1000,
    latencies,
    exhausted: false,
  };
}
