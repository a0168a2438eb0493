import { Client } from '@modelcontextprotocol/client';

/**
 * The gateway's MCP client towards one upstream, the same for stdio and HTTP.
 *
 * `auto` negotiation: the client probes with `server/discover` and speaks 2026-07-28 where the
 * server does, else falls back to the 2025 `initialize` handshake on the same connection (the
 * Python notes example, a 2025-only peer). On 2026-07-28 a server asks for client input
 * (elicitation, sampling, roots) inside the result of the call that needs it (`input_required`,
 * SEP-2322), so even a connection shared by every task can tell whose call is asking: the
 * gateway hands that result back to the agent who made the call (mcp/input-required.ts).
 *
 * No capabilities of its own: what an upstream may ask for is what the calling agent declared,
 * sent per request in the 2026-07-28 envelope. `autoFulfill` is off because the gateway has no
 * user or model to answer with; it passes the request on instead.
 */
export function createUpstreamClient(): Client {
  return new Client(
    { name: 'switchboard-gateway', version: '0.1.0' },
    {
      capabilities: {},
      versionNegotiation: { mode: 'auto' },
      inputRequired: { autoFulfill: false },
    },
  );
}

/**
 * On 2026-07-28 a server sends list changes only on a `subscriptions/listen` stream the client
 * opened (2025 servers send them unsolicited): open one for every list the server says can
 * change, so the catalog hears of them either way. A failure is logged, not fatal: the lists
 * still refresh when the registry reloads the integration.
 */
export async function followListChanges(
  client: Client,
  timeoutMs: number,
  onError: (error: unknown) => void,
): Promise<void> {
  if (client.getProtocolEra() !== 'modern') return;
  const advertised = client.getServerCapabilities();
  const filter = {
    ...(advertised?.tools?.listChanged && { toolsListChanged: true }),
    ...(advertised?.prompts?.listChanged && { promptsListChanged: true }),
    ...(advertised?.resources?.listChanged && { resourcesListChanged: true }),
  };
  if (Object.keys(filter).length === 0) return;
  try {
    await client.listen(filter, { timeout: timeoutMs });
  } catch (error) {
    onError(error);
  }
}
