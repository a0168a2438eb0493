import fs from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { SwitchboardError } from '../errors.ts';
import { SWITCHBOARD_SERVER } from '../runners/bundle.ts';
import { BUNDLE_FILES } from '../runners/files.ts';
import { validTraceparent } from '../telemetry/spans.ts';

/**
 * What an agent reads from its injection bundle (ARCHITECTURE §4): `switchboard.json` in the
 * working folder says where to connect and which environment variable holds each token; the
 * tokens themselves are only in the environment (runners/formats/json.ts keeps files token-free).
 */

const endpoint = z.object({
  url: z.url({ protocol: /^https?$/ }),
  tokenEnv: z.string().regex(/^[A-Z][A-Z0-9_]*$/, 'expected an environment variable name'),
});

/**
 * `switchboard.json` version 1. Not strict: a newer gateway may add fields an older agent can
 * ignore; `version` is what says the shape changed incompatibly.
 */
export const switchboardJsonSchema = z.object({
  version: z.literal(1),
  taskId: z.string().min(1),
  // null for a task outside any session (runners/bundle.ts).
  sessionId: z.string().min(1).nullable(),
  publicUrl: z.url(),
  mcp: endpoint,
  servers: z.record(z.string(), endpoint),
});

export interface Endpoint {
  url: string;
  /** The bearer token, read from the variable the file names. Never log it. */
  token: string;
}

export interface AgentBundle {
  taskId: string;
  /** The aggregate endpoint: every granted integration, tools named `<integration>__<tool>`. */
  mcp: Endpoint;
  /** The built-in server with task_context, task_progress, task_complete, ask_user. */
  switchboard: Endpoint;
  /** The trace the task belongs to (TRACEPARENT, TRACESTATE), continued by every request. */
  trace: TraceContext | undefined;
}

/** W3C trace context as an MCP request's `_meta` carries it (SEP-414: unprefixed keys). */
export interface TraceContext {
  traceparent: string;
  tracestate?: string;
}

/** W3C caps tracestate at 32 members; 512 characters is what the gateway keeps (telemetry/spans.ts). */
const MAX_TRACESTATE = 512;

/**
 * TRACEPARENT and TRACESTATE, the OpenTelemetry environment carrier the runner sets for the
 * task's span (telemetry/child-env.ts). A malformed TRACEPARENT is ignored, as the W3C spec asks
 * of a receiver (a new trace, not a failed task); TRACESTATE means nothing without it.
 */
export function traceContextFrom(env: NodeJS.ProcessEnv): TraceContext | undefined {
  const traceparent = validTraceparent(env.TRACEPARENT?.trim());
  if (!traceparent) return undefined;
  const tracestate = env.TRACESTATE?.trim();
  return tracestate && tracestate.length <= MAX_TRACESTATE && /^[\x20-\x7e]+$/.test(tracestate)
    ? { traceparent, tracestate }
    : { traceparent };
}

/** Reads `<dir>/switchboard.json` and the tokens it names from `env`. */
export async function readAgentBundle(dir: string, env: NodeJS.ProcessEnv): Promise<AgentBundle> {
  const file = path.join(dir, BUNDLE_FILES.json.path);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    throw new SwitchboardError(
      'agent_bundle_invalid',
      `cannot read ${file}: ${(error as Error).message}`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new SwitchboardError(
      'agent_bundle_invalid',
      `${file} is not JSON: ${(error as Error).message}`,
    );
  }
  const parsed = switchboardJsonSchema.safeParse(json);
  if (!parsed.success) {
    const where = parsed.error.issues
      .map((i) => `${i.path.join('.') || '(file)'}: ${i.message}`)
      .join('; ');
    throw new SwitchboardError('agent_bundle_invalid', `${file}: ${where}`);
  }
  const doc = parsed.data;
  const builtIn = doc.servers[SWITCHBOARD_SERVER];
  if (!builtIn)
    throw new SwitchboardError(
      'agent_bundle_invalid',
      `${file}: servers.${SWITCHBOARD_SERVER}: missing`,
    );
  const resolve = (e: z.infer<typeof endpoint>, what: string): Endpoint => {
    const token = env[e.tokenEnv];
    if (!token)
      throw new SwitchboardError(
        'agent_bundle_invalid',
        `${e.tokenEnv} (the token for ${what}) is not set`,
      );
    return { url: e.url, token };
  };
  return {
    taskId: doc.taskId,
    mcp: resolve(doc.mcp, 'mcp'),
    switchboard: resolve(builtIn, `servers.${SWITCHBOARD_SERVER}`),
    trace: traceContextFrom(env),
  };
}
