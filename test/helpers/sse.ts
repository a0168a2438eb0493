/** A minimal SSE reader for tests: the events of one response, in order, as they arrive. */
export interface SseEvent {
  id: string | undefined;
  event: string | undefined;
  data: string;
}

export async function openSse(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; contentType: string | null; events: AsyncGenerator<SseEvent> }> {
  const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers } });
  if (!res.body) throw new Error(`no body from ${url} (${res.status})`);
  const body = res.body;
  async function* events(): AsyncGenerator<SseEvent> {
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of body) {
      buffer += decoder.decode(chunk as Uint8Array, { stream: true });
      for (;;) {
        const end = buffer.indexOf('\n\n');
        if (end < 0) break;
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event: SseEvent = { id: undefined, event: undefined, data: '' };
        let hasData = false;
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) continue;
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'id') event.id = value;
          else if (field === 'event') event.event = value;
          else if (field === 'data') {
            event.data = hasData ? `${event.data}\n${value}` : value;
            hasData = true;
          }
        }
        if (hasData) yield event;
      }
    }
  }
  return { status: res.status, contentType: res.headers.get('content-type'), events: events() };
}

/** Reads events until the stream ends. */
export async function collect(events: AsyncGenerator<SseEvent>): Promise<SseEvent[]> {
  const all: SseEvent[] = [];
  for await (const e of events) all.push(e);
  return all;
}
