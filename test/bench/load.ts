/**
 * The load generator's MCP clients. Two kinds, the same for every target:
 *
 * - `raw`: JSON-RPC over node:http, one keep-alive connection per client, with the real
 *   2025-era handshake (initialize → notifications/initialized, then Mcp-Session-Id and
 *   MCP-Protocol-Version on every request when the server gave them), answers read as JSON or
 *   SSE. The default: it costs the load generator ~4× less CPU per call than the SDK client
 *   (REFERENCES §A2: 0.45–1.0 ms), and on a 2-core machine the generator's CPU is taken from
 *   the servers being measured.
 * - `sdk`: the v2 SDK `Client` over `StreamableHTTPClientTransport` (2025 handshake), for a
 *   check that the raw client measures what real agents see.
 *
 * Every call's answer is checked (the echoed text must come back), so an error is never counted
 * as a fast call.
 */
import http, { type IncomingHttpHeaders } from 'node:http';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';

export const PROTOCOL_VERSION = '2025-11-25';

export interface BenchClient {
  /** One tools/call of `echo`; rejects unless the echoed text comes back. */
  call(): Promise<void>;
  close(): Promise<void>;
}

export interface Endpoint {
  url: URL;
  /** Bearer token, if the target wants one. */
  token?: string;
  /** The tool's name at this endpoint. */
  tool: string;
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

interface JsonRpcMessage {
  jsonrpc: '2.0';
  id?: number | string;
  result?: { content?: Array<{ type: string; text?: string }>; isError?: boolean } & Record<
    string,
    unknown
  >;
  error?: { code: number; message: string };
}

/** A 2025-era MCP client as plain JSON-RPC over one keep-alive HTTP connection. */
export class RawClient implements BenchClient {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  private readonly headers: Record<string, string>;
  private nextId = 1;
  private sessionId: string | undefined;

  private constructor(
    private readonly endpoint: Endpoint,
    private readonly label: string,
  ) {
    this.headers = {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...(endpoint.token && { authorization: `Bearer ${endpoint.token}` }),
    };
  }

  static async connect(endpoint: Endpoint, label: string): Promise<RawClient> {
    const client = new RawClient(endpoint, label);
    await client.initialize();
    return client;
  }

  private async initialize(): Promise<void> {
    const answer = await this.send({
      jsonrpc: '2.0',
      id: this.nextId++,
      method: 'initialize',
      params: {
        protocolVersion: PROTOCOL_VERSION,
        capabilities: {},
        clientInfo: { name: `bench-${this.label}`, version: '1.0.0' },
      },
    });
    const message = this.answerOf(answer, this.nextId - 1);
    const version = (message.result as { protocolVersion?: string }).protocolVersion;
    if (!version) throw new Error(`initialize: no protocolVersion in ${answer.text}`);
    const session = answer.headers['mcp-session-id'];
    if (typeof session === 'string') {
      this.sessionId = session;
      this.headers['mcp-session-id'] = session;
    }
    this.headers['mcp-protocol-version'] = version;
    const ack = await this.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    if (ack.status !== 202 && ack.status !== 200) {
      throw new Error(`notifications/initialized: HTTP ${ack.status} ${ack.text}`);
    }
  }

  async call(): Promise<void> {
    const id = this.nextId++;
    const message = `m${id}`;
    const answer = await this.send({
      jsonrpc: '2.0',
      id,
      method: 'tools/call',
      params: { name: this.endpoint.tool, arguments: { message } },
    });
    const reply = this.answerOf(answer, id);
    const text = reply.result?.content?.[0]?.text;
    if (reply.result?.isError || text !== message) {
      throw new Error(`tools/call: unexpected answer ${answer.text.slice(0, 300)}`);
    }
  }

  async close(): Promise<void> {
    if (this.sessionId) {
      await this.request('DELETE', undefined).catch(() => undefined);
    }
    this.agent.destroy();
  }

  private send(body: unknown): Promise<Answer> {
    return this.request('POST', JSON.stringify(body));
  }

  private request(method: string, body: string | undefined): Promise<Answer> {
    const { url } = this.endpoint;
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          agent: this.agent,
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method,
          headers:
            body === undefined
              ? this.headers
              : { ...this.headers, 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            text += chunk;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  /** The JSON-RPC answer with this id, from a JSON body or an SSE stream. */
  private answerOf(answer: Answer, id: number): JsonRpcMessage {
    if (answer.status !== 200) {
      throw new Error(`HTTP ${answer.status}: ${answer.text.slice(0, 300)}`);
    }
    const type = answer.headers['content-type'] ?? '';
    const messages: JsonRpcMessage[] = [];
    if (type.includes('text/event-stream')) {
      for (const line of answer.text.split('\n')) {
        if (line.startsWith('data:')) {
          const data = line.slice(5).trim();
          if (data !== '') messages.push(JSON.parse(data) as JsonRpcMessage);
        }
      }
    } else {
      const parsed = JSON.parse(answer.text) as JsonRpcMessage | JsonRpcMessage[];
      messages.push(...(Array.isArray(parsed) ? parsed : [parsed]));
    }
    const reply = messages.find((m) => m.id === id);
    if (!reply) throw new Error(`no answer to request ${id}: ${answer.text.slice(0, 300)}`);
    if (reply.error) throw new Error(`JSON-RPC error ${reply.error.code}: ${reply.error.message}`);
    return reply;
  }
}

/** The v2 SDK client (2025 handshake), each with its own transport. */
export class SdkClient implements BenchClient {
  private n = 0;

  private constructor(
    private readonly client: Client,
    private readonly tool: string,
  ) {}

  static async connect(endpoint: Endpoint, label: string): Promise<SdkClient> {
    const client = new Client({ name: `bench-${label}`, version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(endpoint.url, {
        ...(endpoint.token && {
          requestInit: { headers: { authorization: `Bearer ${endpoint.token}` } },
        }),
      }),
    );
    return new SdkClient(client, endpoint.tool);
  }

  async call(): Promise<void> {
    const message = `m${++this.n}`;
    const result = await this.client.callTool({ name: this.tool, arguments: { message } });
    const content = result.content as Array<{ type: string; text?: string }> | undefined;
    if (result.isError || content?.[0]?.text !== message) {
      throw new Error(`tools/call: unexpected answer ${JSON.stringify(result).slice(0, 300)}`);
    }
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}

export type ClientKind = 'raw' | 'sdk';

export function connectClient(
  kind: ClientKind,
  endpoint: Endpoint,
  label: string,
): Promise<BenchClient> {
  return kind === 'raw' ? RawClient.connect(endpoint, label) : SdkClient.connect(endpoint, label);
}
