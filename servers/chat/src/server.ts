/**
 * chat: a Slack-like channel store served over Streamable HTTP at http://127.0.0.1:CHAT_PORT/mcp.
 * It runs as its own long-lived process (manifest `processes`), so the gateway reaches it as an
 * HTTP upstream. Each HTTP request gets a fresh McpServer from the factory (createMcpHandler is
 * stateless per request); the channel store is shared by all of them.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createMcpHandler, McpServer } from '@modelcontextprotocol/server';
import { GatewayTokenError, gatewayTokenVerifier } from '@switchboard/sdk';
import { loadSettings } from './config.ts';
import { nodeListener } from './node-http.ts';
import { ChannelStore } from './store.ts';
import { TaskReactions } from './task-events.ts';
import { registerTools } from './tools.ts';

const MCP_PATH = '/mcp';
/** After SIGTERM, open SSE streams get 2 s to finish before connections are cut (graded stop). */
const SHUTDOWN_GRACE_MS = 2_000;

let settings: ReturnType<typeof loadSettings>;
try {
  settings = loadSettings(process.env);
} catch (error) {
  console.error(`chat: ${(error as Error).message}`);
  process.exit(1);
}

const store = new ChannelStore();
const reactions = new TaskReactions(store);
const mcp = createMcpHandler(
  () => {
    const server = new McpServer({ name: 'switchboard-chat', version: '0.1.0' });
    registerTools(server, store, reactions);
    return server;
  },
  { onerror: (error) => console.error(`chat: ${error.message}`) },
);

// Started by the gateway (SWITCHBOARD_URL and SWITCHBOARD_INTEGRATION set), every request must
// carry the token the gateway minted for this integration: no other local process may call our
// tools, hidden ones included. Run by hand without a gateway, there is nobody to issue tokens.
const verifyToken = process.env.SWITCHBOARD_URL ? gatewayTokenVerifier() : undefined;
if (!verifyToken) {
  console.error(
    'chat: SWITCHBOARD_URL is not set: serving without gateway tokens (development only)',
  );
}

async function authorized(request: Request): Promise<Response | undefined> {
  if (!verifyToken) return undefined;
  try {
    await verifyToken(request);
    return undefined;
  } catch (error) {
    const message = error instanceof GatewayTokenError ? error.message : 'token not valid';
    return Response.json(
      { error: { code: 'invalid_token', message } },
      { status: 401, headers: { 'www-authenticate': 'Bearer error="invalid_token"' } },
    );
  }
}

let baseUrl = '';
const listener = nodeListener(
  () => baseUrl,
  async (request) => {
    if (new URL(request.url).pathname !== MCP_PATH)
      return new Response('Not Found', { status: 404 });
    return (await authorized(request)) ?? mcp.fetch(request);
  },
);
const http = createServer((req, res) => {
  listener(req, res).catch((error: Error) => {
    console.error(`chat: request failed: ${error.message}`);
    if (!res.headersSent) res.writeHead(500);
    res.end();
  });
});

// One line that says why (the gateway shows a process's last stderr line as its exit cause),
// rather than the stack trace of an unhandled 'error' event.
const cannotListen = (error: Error) => {
  console.error(`chat: cannot listen on 127.0.0.1:${settings.CHAT_PORT}: ${error.message}`);
  process.exit(1);
};
http.once('error', cannotListen);
http.listen(settings.CHAT_PORT, '127.0.0.1', () => {
  http.off('error', cannotListen);
  const { port } = http.address() as AddressInfo;
  baseUrl = `http://127.0.0.1:${port}`;
  console.error(`chat: listening on ${baseUrl}${MCP_PATH}`);
});

let stopping = false;
function stop(reason: string): void {
  if (stopping) return;
  stopping = true;
  console.error(`chat: ${reason}, shutting down`);
  http.close(() => process.exit(0));
  void mcp.close();
  setTimeout(() => {
    http.closeAllConnections();
    process.exit(0);
  }, SHUTDOWN_GRACE_MS).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// Started by the gateway (which sets SWITCHBOARD_INTEGRATION), stdin is a pipe it holds open
// while it lives: EOF means it died, even by SIGKILL that gave it no chance to stop us, so we do
// not linger holding the port. Run by hand (stdin maybe /dev/null), this is skipped.
if (process.env.SWITCHBOARD_INTEGRATION) {
  process.stdin.on('end', () => stop('stdin closed (the gateway is gone)'));
  process.stdin.resume();
}
