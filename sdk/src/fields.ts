import path from 'node:path';
import { z } from 'zod';
import { cronProblem } from './cron.ts';

/**
 * Field schemas shared by the manifest, the handler contracts and the operator policy. Every
 * message starts with "expected ": errors.ts turns it into `found X, expected …`.
 */

/**
 * A strict object whose unknown-key errors list the keys it does accept; `what` replaces the
 * plain "a mapping" when something else stands where the object should be.
 */
export function strictObject<T extends z.ZodRawShape>(shape: T, what?: string) {
  const accepted = `one of ${Object.keys(shape).join(', ')}`;
  return z.strictObject(shape, {
    error: (issue) => {
      if (issue.code === 'unrecognized_keys') return `expected ${accepted}`;
      if (issue.code === 'invalid_type' && what) return `expected ${what}`;
      return undefined;
    },
  });
}

/** Where a mapping should be, something else (or nothing) is: a type error, not a bad value. */
export function isNotObject(input: unknown): boolean {
  return input === null || typeof input !== 'object' || Array.isArray(input);
}

/** A string, optionally matching `pattern`; one message for the wrong type and a bad value. */
export function text(expected: string, pattern?: RegExp) {
  const message = `expected ${expected}`;
  const base = z.string({ error: message });
  return pattern ? base.regex(pattern, message) : base.min(1, message);
}

/**
 * Integration names are the namespace of their tools: `github` → `github__get_pr`. A `-` only
 * between letters or digits (never `--`, never last), so that the name's environment form
 * (`my-tool` → `MY_TOOL`, in SWITCHBOARD_SETTING_MY_TOOL__KEY) never holds `__` nor ends in `_`.
 */
export const INTEGRATION_NAME = /^(?=.{2,41}$)[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;
export const integrationName = text(
  'a name of 2 to 41 characters: a lowercase letter, then lowercase letters or digits, with single - between them (my-tool)',
  INTEGRATION_NAME,
);

/** Setting keys are environment variable names, because that is how a server receives them. */
export const SETTING_KEY = /^[A-Z][A-Z0-9_]*$/;
export const settingKey = text(
  'a setting key: an uppercase letter, then uppercase letters, digits or _ (e.g. GITHUB_TOKEN)',
  SETTING_KEY,
);

/** Webhook, schedule and process names, and dispatcher types: they appear in URLs and logs. */
export const LOCAL_NAME = /^[a-z][a-z0-9-]*$/;
export const localName = text(
  'a lowercase letter, then lowercase letters, digits or - (e.g. nightly-triage)',
  LOCAL_NAME,
);

/** MCP tool names: 1–128 of A-Z a-z 0-9 _ - . (MCP 2025-11-25, "Tool names"). */
export const TOOL_NAME = /^[A-Za-z0-9_.-]{1,128}$/;
export const toolName = text('an MCP tool name: 1 to 128 of A-Z a-z 0-9 _ - .', TOOL_NAME);

/** `integration:tool`, either side may be `*` (the token scope syntax, ARCHITECTURE §4). */
export const TOOL_PATTERN = /^(\*|[a-z][a-z0-9-]{1,40}):(\*|[A-Za-z0-9_.-]{1,128})$/;
export const toolPattern = text(
  'a tool pattern integration:tool, where either side may be * (e.g. github:get_pr, github:*)',
  TOOL_PATTERN,
);

/** No leading `/` (or `C:\`) and no `..` segment: the path stays inside the integration folder. */
export function staysInside(value: string): boolean {
  if (value.includes('\0')) return false;
  if (path.posix.isAbsolute(value) || path.win32.isAbsolute(value)) return false;
  return !value.split(/[\\/]/).includes('..');
}

export const relativePath = z
  .string({ error: 'expected a path relative to the integration folder' })
  .min(1, 'expected a path relative to the integration folder')
  .refine(
    staysInside,
    'expected a path inside the integration folder (relative, without .. or a leading /)',
  );

/** A program on PATH (`node`) or a path in the folder (`./bin/server`); never `..` out of it. */
export const command = z
  .string({ error: 'expected a command: a program name such as node, or a path in the folder' })
  .min(1, 'expected a command: a program name such as node, or a path in the folder')
  .refine(
    (value) => !value.split(/[\\/]/).includes('..'),
    'expected a command that does not leave the integration folder (no .. segment)',
  )
  // A manifest ships with its folder: an absolute path names something on the author's machine.
  .refine(
    (value) => !value.startsWith('/') && value.trim() === value,
    'expected a program name on PATH (node, python3) or a relative path in the folder (./bin/server), without surrounding spaces',
  );

export const args = z.array(z.string({ error: 'expected a string argument' }), {
  error: 'expected a list of string arguments, e.g. [dist/server.js]',
});

const HOST_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** `api.github.com` or `127.0.0.1:7001`: lowercase, no scheme, no path, no wildcard. */
export function isHostPort(value: string): boolean {
  const match = /^([^:]+)(?::(\d{1,5}))?$/.exec(value);
  if (!match) return false;
  const [, host = '', port] = match;
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) return false;
  return host.length <= 253 && host.split('.').every((label) => HOST_LABEL.test(label));
}

export const hostPort = z
  .string({ error: 'expected a host name such as api.github.com, optionally with :port' })
  .refine(
    isHostPort,
    'expected a lowercase host name such as api.github.com, optionally with :port (no scheme, path or *)',
  );

/** An http(s) URL without credentials or fragment: what an MCP server listens on. */
export function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (
      (url.protocol === 'http:' || url.protocol === 'https:') &&
      url.hostname !== '' &&
      !url.username &&
      !url.password &&
      !url.hash
    );
  } catch {
    return false;
  }
}

export const HTTP_URL_EXPECTED =
  'an http:// or https:// URL without credentials or #fragment, e.g. http://127.0.0.1:7001/mcp';

export const httpUrl = z
  .string({ error: 'expected an http:// or https:// URL, e.g. http://127.0.0.1:7001/mcp' })
  .refine(isHttpUrl, `expected ${HTTP_URL_EXPECTED}`);

/** A cron expression, checked field by field (cron.ts). */
export const cron = z
  .string({ error: 'expected a cron expression in quotes, e.g. "0 6 * * *"' })
  .superRefine((value, ctx) => {
    const wrong = cronProblem(value);
    if (wrong) ctx.addIssue({ code: 'custom', message: `expected ${wrong}` });
  });
