import path from 'node:path';
import { SETTING_ENV_PREFIX } from '@switchboard/sdk';
import { z } from 'zod';
import { CONTAINMENT_SETTINGS, type ContainmentSetting } from './containment/detect.ts';
import { type EmbeddedMemory, embeddedMemoryEnv } from './db/embedded-memory.ts';
import { type EgressLimits, egressEnv, type ResolveOverride } from './egress-config.ts';
import { ConfigError } from './errors.ts';
import { heapGrowthEnv } from './heap-growth.ts';
import { LOG_FORMATS, type LogFormat } from './log.ts';
import { maskSecret, maskUrl } from './redact.ts';
import { readTracingConfig, type TracingConfig } from './telemetry/config.ts';

/**
 * The gateway's whole environment (ARCHITECTURE §4), validated once at boot. A bad value stops
 * the process with exit code 2 and one line per bad variable: its name, its value (secrets
 * masked) and what was expected. Nothing else in the code reads process.env for settings.
 */

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const MODES = ['development', 'production'] as const;

/** Variables whose values are never printed, even when they are wrong. */
const SECRET_VARS = new Set([
  'SWITCHBOARD_MASTER_KEY',
  'SWITCHBOARD_ADMIN_KEY',
  'EMBEDDINGS_API_KEY',
]);
const URL_VARS = new Set(['DATABASE_URL']);

const port = z
  .string()
  .regex(/^\d+$/, 'expected an integer from 0 to 65535')
  .transform(Number)
  .refine((n) => n >= 0 && n <= 65535, 'expected an integer from 0 to 65535');

const httpUrl = z
  .string()
  .refine((v) => {
    try {
      const u = new URL(v);
      return (u.protocol === 'http:' || u.protocol === 'https:') && !u.search && !u.hash;
    } catch {
      return false;
    }
  }, 'expected an absolute http(s) URL without query or fragment, e.g. https://gateway.example.com')
  .transform((v) => v.replace(/\/+$/, ''));

const postgresUrl = z.string().refine((v) => {
  try {
    const u = new URL(v);
    return (u.protocol === 'postgres:' || u.protocol === 'postgresql:') && u.hostname !== '';
  } catch {
    return false;
  }
}, 'expected a postgres:// or postgresql:// URL with a host, e.g. postgres://user:pass@127.0.0.1:5432/switchboard');

/** 32 bytes for AES-256-GCM, as 64 hex characters or standard/url-safe base64. */
const masterKey = z
  .string()
  .refine(
    (v) => decodeMasterKey(v) !== undefined,
    'expected 32 random bytes as 64 hex characters or as base64 (generate one: openssl rand -base64 32)',
  );

const adminKey = z
  .string()
  .regex(
    /^[\x21-\x7e]{32,256}$/,
    'expected 32 to 256 printable characters without spaces (generate one: openssl rand -hex 32)',
  );

const nonEmpty = z.string().min(1, 'expected a non-empty value');

const durationMs = z
  .string()
  .regex(/^\d+$/, 'expected a whole number of milliseconds, e.g. 10000')
  .transform(Number);

/** Where integrations are looked for when INTEGRATION_DIRS is unset (relative to the cwd). */
export const DEFAULT_INTEGRATION_DIRS = 'servers';

/** INTEGRATION_DIRS (`a:b`) as absolute folders, empty entries dropped. */
export function integrationDirsOf(value: string, cwd: string): string[] {
  return value
    .split(':')
    .filter((d) => d !== '')
    .map((d) => path.resolve(cwd, d));
}

const envSchema = z.object({
  PORT: port.default(8080),
  HOST: nonEmpty.default('127.0.0.1'),
  SWITCHBOARD_PUBLIC_URL: httpUrl.optional(),
  DATABASE_URL: postgresUrl.optional(),
  SWITCHBOARD_DATA_DIR: nonEmpty.default('./.switchboard'),
  INTEGRATION_DIRS: nonEmpty.default(DEFAULT_INTEGRATION_DIRS),
  SWITCHBOARD_POLICY: nonEmpty.default('policy/default.yaml'),
  SWITCHBOARD_MASTER_KEY: masterKey.optional(),
  SWITCHBOARD_ADMIN_KEY: adminKey.optional(),
  LOG_LEVEL: z
    .enum(LOG_LEVELS, { error: `expected one of ${LOG_LEVELS.join(', ')}` })
    .default('info'),
  // production: boot refuses the development policy and a generated master key (production-mode.ts).
  SWITCHBOARD_MODE: z
    .enum(MODES, { error: `expected one of ${MODES.join(', ')}` })
    .default('development'),
  LOG_FORMAT: z
    .enum(LOG_FORMATS, {
      error: `expected one of ${LOG_FORMATS.join(', ')} (auto: pretty on a terminal, JSON lines otherwise)`,
    })
    .default('auto'),
  SWITCHBOARD_SHUTDOWN_TIMEOUT_MS: durationMs.default(10_000),
  // The strongest containment of integration processes to use (containment/detect.ts).
  SWITCHBOARD_CONTAINMENT: z
    .enum(CONTAINMENT_SETTINGS, {
      error: `expected one of ${CONTAINMENT_SETTINGS.join(', ')}`,
    })
    .default('auto'),
  // How long a claimed task is the worker's without a renewal (renewed every third of it): a
  // gateway killed outright holds its tasks this long. Tests shorten it to see recovery.
  SWITCHBOARD_TASK_LEASE_MS: durationMs
    .pipe(z.number().min(1_000, 'expected at least 1000 ms'))
    .default(30_000),
  // The longest an MCP task passed through to an upstream that runs tasks itself is followed
  // (mcp/mcp-task-upstream.ts) before it is cancelled upstream and fails; capped by the task's
  // 1 h ttl less 5 min (the agent can still read why). Tests shorten it to see the bound.
  SWITCHBOARD_MCP_TASK_UPSTREAM_MAX_MS: durationMs
    .pipe(z.number().min(1_000, 'expected at least 1000 ms'))
    .default(55 * 60_000),
  // Load shedding (http/admission.ts): requests that do work (not GET) held at once by this
  // process past which new ones get 503 `overloaded` with Retry-After; 0 turns it off. 512: a
  // process serves ~1,000 tool calls a second (test/bench/HISTORY.md), so a full queue of 512
  // is half a second of work, while calls held for minutes (approvals, ask_user, slow tools) of
  // 16 tasks at their default 32 in flight still fit.
  SWITCHBOARD_MAX_CONCURRENT_REQUESTS: z
    .string()
    .regex(/^\d+$/, 'expected a whole number of requests (0: no limit), e.g. 512')
    .transform(Number)
    .pipe(z.number().max(1_000_000, 'expected at most 1000000'))
    .default(512),
  // And when the event loop stays late past this (two samples 50 ms apart), every request to
  // the MCP endpoints, the API and the webhooks is shed; 0 turns it off. 500 ms: a GC pause or a
  // policy load stays far under it, a loop that runs half a second late is already failing its
  // callers.
  SWITCHBOARD_SHED_EVENT_LOOP_DELAY_MS: durationMs
    .pipe(
      z
        .number()
        .refine(
          (n) => n === 0 || n >= 50,
          'expected 0 (off) or at least 50 ms (the sample period)',
        ),
    )
    .default(500),
  // Test only: mounts /__test/faults (http/test-faults.ts), routes that throw on purpose. Taken
  // only with NODE_ENV=test and refused with SWITCHBOARD_MODE=production (production-mode.ts).
  SWITCHBOARD_TEST_FAULTS: z.enum(['0', '1'], { error: 'expected 0 or 1' }).default('0'),
  // The embedded database's Postgres memory (db/embedded-memory.ts); unused with DATABASE_URL.
  ...embeddedMemoryEnv,
  // The V8 old generation's growth past the live heap, in percent (heap-growth.ts); 0: V8's own.
  ...heapGrowthEnv,
  // The egress proxy of integration programs (issue 21, egress-config.ts).
  ...egressEnv,
  // Documents (issue 18, documents/embeddings.ts): an OpenAI-compatible embeddings endpoint
  // (the full URL, e.g. http://127.0.0.1:11434/v1/embeddings). Unset: search is full text only.
  EMBEDDINGS_URL: z
    .string()
    .refine((v) => {
      try {
        const u = new URL(v);
        return u.protocol === 'http:' || u.protocol === 'https:';
      } catch {
        return false;
      }
    }, 'expected an absolute http(s) URL of an embeddings endpoint, e.g. https://api.openai.com/v1/embeddings')
    .optional(),
  EMBEDDINGS_MODEL: nonEmpty.max(200, 'expected at most 200 characters').optional(),
  EMBEDDINGS_API_KEY: nonEmpty.optional(),
  // Optional: sent as `dimensions` and checked against every answer (1 to 4096).
  EMBEDDINGS_DIMENSIONS: z
    .string()
    .regex(/^\d+$/, 'expected a whole number from 1 to 4096')
    .transform(Number)
    .refine((n) => n >= 1 && n <= 4096, 'expected a whole number from 1 to 4096')
    .optional(),
});

/** An OpenAI-compatible embeddings endpoint for documents (documents/embeddings.ts). */
export interface EmbeddingsConfig {
  url: string;
  model: string;
  apiKey: string | undefined;
  /** Sent as `dimensions` and checked against the answer when set. */
  dimensions: number | undefined;
}

/** The egress proxy's settings (egress-config.ts). */
export interface EgressConfig {
  port: number;
  resolve: ResolveOverride[];
  limits: EgressLimits;
}

export interface Config {
  port: number;
  host: string;
  /** Unset means `http://HOST:PORT` with the port actually bound (see publicUrlFor). */
  publicUrl: string | undefined;
  databaseUrl: string | undefined;
  dataDir: string;
  integrationDirs: string[];
  policyPath: string;
  masterKey: Buffer | undefined;
  adminKey: string | undefined;
  logLevel: (typeof LOG_LEVELS)[number];
  mode: (typeof MODES)[number];
  logFormat: LogFormat;
  shutdownTimeoutMs: number;
  taskLeaseMs: number;
  mcpTaskUpstreamMaxMs: number;
  /** Load shedding (http/admission.ts); 0: off. */
  maxConcurrentRequests: number;
  shedEventLoopDelayMs: number;
  /** SWITCHBOARD_TEST_FAULTS=1 (with NODE_ENV=test): the test-only fault routes are mounted. */
  testFaults: boolean;
  containment: ContainmentSetting;
  /** SWITCHBOARD_EMBEDDED_*: the embedded database's Postgres memory settings. */
  embeddedMemory: EmbeddedMemory;
  /** heap-growth.ts: the old generation's growth factor 1 + this/100; 0 leaves V8's. */
  heapGrowthPercent: number;
  /** The egress proxy (issue 21); undefined with SWITCHBOARD_EGRESS=off. */
  egress: EgressConfig | undefined;
  /** OpenTelemetry tracing (the standard OTEL_* variables, telemetry/config.ts); undefined: off. */
  tracing: TracingConfig | undefined;
  /** EMBEDDINGS_*: the documents' embeddings endpoint; undefined: full-text search only. */
  embeddings: EmbeddingsConfig | undefined;
}

export function decodeMasterKey(value: string): Buffer | undefined {
  if (/^[0-9a-fA-F]{64}$/.test(value)) return Buffer.from(value, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(value)) {
    const bytes = Buffer.from(value.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (bytes.length === 32) return bytes;
  }
  return undefined;
}

function shown(name: string, value: unknown): string {
  if (value === undefined) return '(unset)';
  const text = String(value);
  if (SECRET_VARS.has(name)) return maskSecret(text);
  if (URL_VARS.has(name)) return JSON.stringify(maskUrl(text));
  return JSON.stringify(text);
}

/**
 * Parse the environment. Empty strings count as unset, as shells and compose files produce them
 * for "no value". Relative paths resolve against `cwd`.
 */
export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
): Config {
  const raw: Record<string, string | undefined> = {};
  for (const key of Object.keys(envSchema.shape)) {
    const value = env[key];
    raw[key] = value === undefined || value.trim() === '' ? undefined : value.trim();
  }
  const parsed = envSchema.safeParse(raw);
  const tracing = readTracingConfig(env);
  if (!parsed.success || tracing.problems.length > 0) {
    const problems = (parsed.error?.issues ?? []).map((issue) => {
      const name = String(issue.path[0]);
      return `${name}=${shown(name, raw[name])}: ${issue.message}`;
    });
    throw new ConfigError([...problems, ...tracing.problems]);
  }
  const e = parsed.data;
  if (e.EMBEDDINGS_URL && !e.EMBEDDINGS_MODEL) {
    throw new ConfigError([
      'EMBEDDINGS_MODEL=(unset): expected the model to ask EMBEDDINGS_URL for (e.g. text-embedding-3-small) when EMBEDDINGS_URL is set',
    ]);
  }
  if (e.SWITCHBOARD_TEST_FAULTS === '1' && env.NODE_ENV !== 'test') {
    throw new ConfigError([
      `SWITCHBOARD_TEST_FAULTS="1": only for the gateway's own tests (NODE_ENV=test); it mounts routes that throw on purpose`,
    ]);
  }
  return {
    port: e.PORT,
    host: e.HOST,
    publicUrl: e.SWITCHBOARD_PUBLIC_URL,
    databaseUrl: e.DATABASE_URL,
    dataDir: path.resolve(cwd, e.SWITCHBOARD_DATA_DIR),
    integrationDirs: integrationDirsOf(e.INTEGRATION_DIRS, cwd),
    policyPath: path.resolve(cwd, e.SWITCHBOARD_POLICY),
    masterKey: e.SWITCHBOARD_MASTER_KEY ? decodeMasterKey(e.SWITCHBOARD_MASTER_KEY) : undefined,
    adminKey: e.SWITCHBOARD_ADMIN_KEY,
    logLevel: e.LOG_LEVEL,
    mode: e.SWITCHBOARD_MODE,
    logFormat: e.LOG_FORMAT,
    shutdownTimeoutMs: e.SWITCHBOARD_SHUTDOWN_TIMEOUT_MS,
    taskLeaseMs: e.SWITCHBOARD_TASK_LEASE_MS,
    mcpTaskUpstreamMaxMs: e.SWITCHBOARD_MCP_TASK_UPSTREAM_MAX_MS,
    maxConcurrentRequests: e.SWITCHBOARD_MAX_CONCURRENT_REQUESTS,
    shedEventLoopDelayMs: e.SWITCHBOARD_SHED_EVENT_LOOP_DELAY_MS,
    testFaults: e.SWITCHBOARD_TEST_FAULTS === '1',
    containment: e.SWITCHBOARD_CONTAINMENT,
    heapGrowthPercent: e.SWITCHBOARD_HEAP_GROWTH_PERCENT,
    egress:
      e.SWITCHBOARD_EGRESS === 'off'
        ? undefined
        : {
            port: e.SWITCHBOARD_EGRESS_PORT,
            resolve: e.SWITCHBOARD_EGRESS_RESOLVE,
            limits: {
              connectTimeoutMs: e.SWITCHBOARD_EGRESS_CONNECT_TIMEOUT_MS,
              maxDurationMs: e.SWITCHBOARD_EGRESS_MAX_DURATION_MS,
              idleTimeoutMs: e.SWITCHBOARD_EGRESS_IDLE_TIMEOUT_MS,
              maxBytes: e.SWITCHBOARD_EGRESS_MAX_BYTES,
              maxConnectionsPerIntegration: e.SWITCHBOARD_EGRESS_MAX_CONNECTIONS,
            },
          },
    embeddedMemory: {
      sharedBuffersKb: e.SWITCHBOARD_EMBEDDED_SHARED_BUFFERS,
      workMemKb: e.SWITCHBOARD_EMBEDDED_WORK_MEM,
      maintenanceWorkMemKb: e.SWITCHBOARD_EMBEDDED_MAINTENANCE_WORK_MEM,
    },
    tracing: tracing.config,
    embeddings:
      e.EMBEDDINGS_URL && e.EMBEDDINGS_MODEL
        ? {
            url: e.EMBEDDINGS_URL,
            model: e.EMBEDDINGS_MODEL,
            apiKey: e.EMBEDDINGS_API_KEY,
            dimensions: e.EMBEDDINGS_DIMENSIONS,
          }
        : undefined,
  };
}

/** The base URL put in tokens and agent configs once the listen port is known. */
export function publicUrlFor(config: Config, boundPort: number): string {
  if (config.publicUrl) return config.publicUrl.replace(/\/+$/, '');
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  return `http://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${boundPort}`;
}

/** The variables this build reads, for docs and `--help`. */
export const CONFIG_VARIABLES = Object.keys(envSchema.shape);

/** SWITCHBOARD_* variables this build does not know: most likely typos, worth a warning. */
export function unknownVariables(env: NodeJS.ProcessEnv): string[] {
  return Object.keys(env)
    .filter(
      (name) =>
        name.startsWith('SWITCHBOARD_') &&
        !name.startsWith(SETTING_ENV_PREFIX) &&
        !KNOWN_VARIABLES.has(name),
    )
    .sort();
}

/** Read by the CLI (which gateway, which key) and given to agents and processes, not by start. */
const CLIENT_VARIABLES = [
  'SWITCHBOARD_URL',
  'SWITCHBOARD_API_KEY',
  'SWITCHBOARD_TOKEN',
  'SWITCHBOARD_TASK_ID',
];
const KNOWN_VARIABLES = new Set([...CONFIG_VARIABLES, ...CLIENT_VARIABLES]);
