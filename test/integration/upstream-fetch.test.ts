import { getEventListeners } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchWithOwnSignal } from '../../gateway/src/integrations/upstream/http.ts';

// The HTTP upstream's fetch: the SDK hands every request the same long-lived abort signal, and
// Node 20's fetch leaves a listener on it per request (hundreds under load: test/bench/HISTORY.md).
describe('fetchWithOwnSignal', () => {
  let server: http.Server;
  let url = '';
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      if (req.url === '/stream') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: first\n\n'); // and never ends, like an SSE notification stream
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('leaves no listener on the shared signal once each response has been read', async () => {
    const shared = new AbortController();
    for (let i = 0; i < 50; i++) {
      const res = await fetchWithOwnSignal(`${url}/json`, { signal: shared.signal });
      expect(await res.json()).toEqual({ ok: true });
    }
    expect(getEventListeners(shared.signal, 'abort')).toHaveLength(0);
  });

  it('still aborts a stream in flight when the shared signal aborts', async () => {
    const shared = new AbortController();
    const res = await fetchWithOwnSignal(`${url}/stream`, { signal: shared.signal });
    const reader = res.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toBe('data: first\n\n');
    expect(getEventListeners(shared.signal, 'abort')).toHaveLength(1);
    shared.abort(new Error('transport closed'));
    await expect(reader.read()).rejects.toThrow('transport closed');
    expect(getEventListeners(shared.signal, 'abort')).toHaveLength(0);
  });

  it('leaves no listener when the reader cancels the body (an SSE stream cut at its size limit)', async () => {
    const shared = new AbortController();
    const res = await fetchWithOwnSignal(`${url}/stream`, { signal: shared.signal });
    const reader = res.body!.getReader();
    await reader.read();
    await reader.cancel();
    expect(getEventListeners(shared.signal, 'abort')).toHaveLength(0);
  });
});
