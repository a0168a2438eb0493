import {
  Client,
  type JSONRPCErrorResponse,
  type JSONRPCResponse,
  type StandardSchemaV1,
} from '@modelcontextprotocol/client';

/** The `data` key under which an upstream's CreateTaskResult reaches its caller (see below). */
export const UPSTREAM_TASK_CREATED = 'io.switchboard/upstream-task-created';

/**
 * The SDK client decodes a `resultType: "task"` answer (the tasks extension, 2026-07-28) as an
 * unsupported result, and a 2025-11-25 CreateTaskResult (`{ task }`) fails its tools/call schema;
 * either way its content is lost. This client turns both into an error response whose data holds
 * the raw result under UPSTREAM_TASK_CREATED, so the caller that asked for a task reads it back
 * (mcp/mcp-task-upstream.ts) and any other caller fails as before (a task nobody asked for).
 */
class UpstreamClient extends Client {
  protected override _onresponse(response: JSONRPCResponse | JSONRPCErrorResponse): void {
    const result = (response as { result?: unknown }).result as Record<string, unknown> | undefined;
    const isTask =
      result !== null &&
      typeof result === 'object' &&
      (result.resultType === 'task' ||
        (result.resultType === undefined &&
          typeof result.task === 'object' &&
          result.task !== null &&
          !('content' in result)));
    if (!isTask) {
      super._onresponse(response);
      return;
    }
    super._onresponse({
      jsonrpc: '2.0',
      id: response.id,
      error: {
        code: -32603,
        message: 'the upstream answered with a task',
        data: { [UPSTREAM_TASK_CREATED]: result },
      },
    } as JSONRPCErrorResponse);
  }
}

/** The raw CreateTaskResult an upstream answered, if `error` is the one UpstreamClient made. */
export function upstreamTaskCreated(error: unknown): Record<string, unknown> | undefined {
  const data = (error as { data?: Record<string, unknown> } | undefined)?.data;
  const raw = data?.[UPSTREAM_TASK_CREATED];
  return raw !== null && typeof raw === 'object' ? (raw as Record<string, unknown>) : undefined;
}

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
  const client = new UpstreamClient(
    { name: 'switchboard-gateway', version: '0.1.0' },
    {
      capabilities: {},
      versionNegotiation: { mode: 'auto' },
      inputRequired: { autoFulfill: false },
    },
  );
  validateCallsOnce(client);
  return client;
}

/** What the SDK's Protocol keeps private and validateCallsOnce uses (checked at run time). */
interface WireCodec {
  validateResult(
    method: string,
    raw: unknown,
  ): { ok: true; value: unknown } | { ok: false; reason: string; message?: string };
}

/**
 * The SDK's `request()` without a result schema builds a validator for each request, and first
 * probes whether the method is in its era by validating `undefined` against the result schema:
 * a failed zod parse whose issues are formatted into a message, on every tools/call (~40 of
 * the ~2,200 profiled µs of a call at C=16). The same validator (the codec's validateResult, as
 * the SDK's codecResultValidator wraps it) is given here as the result schema, built once per
 * codec. Where the SDK's private method is missing (another SDK version), nothing changes.
 */
function validateCallsOnce(client: Client): void {
  const internals = client as unknown as { _resolveOutboundCodec?: (method: string) => WireCodec };
  if (typeof internals._resolveOutboundCodec !== 'function') return;
  const validators = new WeakMap<WireCodec, StandardSchemaV1<unknown, unknown>>();
  const validatorFor = (codec: WireCodec) => {
    let validator = validators.get(codec);
    if (!validator) {
      validator = {
        '~standard': {
          version: 1,
          vendor: 'mcp-wire-codec',
          validate(value: unknown) {
            const outcome = codec.validateResult('tools/call', value);
            if (outcome.ok) return { value: outcome.value };
            return { issues: [{ message: outcome.message ?? `${outcome.reason}: tools/call` }] };
          },
        },
      };
      validators.set(codec, validator);
    }
    return validator;
  };
  const request = client.request.bind(client) as (...args: unknown[]) => Promise<unknown>;
  client.request = ((message: { method: string }, schemaOrOptions?: unknown, options?: unknown) => {
    if (message.method !== 'tools/call' || isStandardSchema(schemaOrOptions)) {
      return request(message, schemaOrOptions, options);
    }
    const codec = internals._resolveOutboundCodec?.call(client, message.method);
    if (!codec) return request(message, schemaOrOptions, options);
    return request(message, validatorFor(codec), schemaOrOptions);
  }) as Client['request'];
}

function isStandardSchema(value: unknown): boolean {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as { '~standard'?: { validate?: unknown } })['~standard']?.validate === 'function'
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
