import type { Tool } from '@modelcontextprotocol/server';

/**
 * SEP-2243 (2026-07-28 Streamable HTTP): a tool may mark primitive arguments with
 * `x-mcp-header: <Name>` in its inputSchema; a client then mirrors each such value into an
 * `Mcp-Param-<Name>` header (so proxies and load balancers can route on it), and the server MUST
 * reject a call whose headers and body disagree with 400 / -32020 (HeaderMismatch). The SDK does
 * this for an McpServer's own tools only; the gateway serves its upstreams' tools from a
 * low-level Server, so it checks here, before the call goes upstream. (Towards an HTTP upstream
 * the gateway's own client mirrors the headers again: the SDK client does that by itself.)
 */

export const HEADER_MISMATCH = -32020;
const PREFIX = 'mcp-param-';
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const PRIMITIVE = new Set(['string', 'integer', 'boolean', 'number']);
const BASE64_OPEN = '=?base64?';
const BASE64_CLOSE = '?=';
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const DECIMAL = /^-?\d+(\.\d+)?$/;

interface Declaration {
  /** As declared, for messages; headers are matched case-insensitively. */
  name: string;
  header: string;
  path: string[];
  type: string;
}

const scanned = new WeakMap<Tool, Declaration[]>();

/**
 * The declarations of a tool, found along `properties` chains only (where the spec allows them).
 * A malformed declaration makes conforming clients drop the tool, so such a tool has nothing to
 * check: none is returned rather than half of them.
 */
export function declarations(tool: Tool): Declaration[] {
  const cached = scanned.get(tool);
  if (cached) return cached;
  const found: Declaration[] = [];
  const seen = new Set<string>();
  let valid = true;
  const visit = (node: unknown, path: string[]) => {
    if (!valid || node === null || typeof node !== 'object') return;
    const schema = node as Record<string, unknown>;
    const raw = schema['x-mcp-header'];
    if (raw !== undefined) {
      const type = typeof schema.type === 'string' ? schema.type : '';
      const lower = typeof raw === 'string' ? raw.toLowerCase() : '';
      if (path.length === 0 || typeof raw !== 'string' || !TOKEN.test(raw)) valid = false;
      else if (!PRIMITIVE.has(type) || seen.has(lower)) valid = false;
      else {
        seen.add(lower);
        found.push({ name: raw, header: lower, path, type });
      }
    }
    const properties = schema.properties;
    if (properties !== null && typeof properties === 'object') {
      for (const [key, child] of Object.entries(properties)) visit(child, [...path, key]);
    }
  };
  visit(tool.inputSchema, []);
  const result = valid ? found : [];
  scanned.set(tool, result);
  return result;
}

export interface Mismatch {
  header: string;
  message: string;
}

/**
 * The first disagreement between the `Mcp-Param-*` headers and the arguments, if any. A value
 * absent or null in the body expects no header; numbers compare numerically (42 = 42.0).
 */
export function paramHeaderMismatch(
  found: Declaration[],
  args: Record<string, unknown> | undefined,
  headers: Record<string, string | string[] | undefined>,
): Mismatch | undefined {
  for (const declaration of found) {
    const value = valueAt(args, declaration.path);
    if (value === undefined || value === null) continue;
    const expected = primitiveText(value);
    if (expected === undefined) continue;
    const name = `Mcp-Param-${declaration.name}`;
    const rawHeader = headers[PREFIX + declaration.header];
    const header = Array.isArray(rawHeader) ? rawHeader.join(', ') : rawHeader;
    const at = declaration.path.join('.');
    if (header === undefined) {
      return { header: name, message: `the body carries ${at} but the ${name} header is absent` };
    }
    const decoded = decode(header);
    if (decoded === undefined) {
      return { header: name, message: `the ${name} header carries an invalid Base64 value` };
    }
    const numeric = declaration.type === 'integer' || declaration.type === 'number';
    const same =
      numeric && typeof value === 'number' && DECIMAL.test(decoded)
        ? Number(decoded) === value
        : decoded === expected;
    if (!same) {
      return {
        header: name,
        message: `the ${name} header is ${JSON.stringify(decoded)} but the body carries ${at}=${JSON.stringify(value)}`,
      };
    }
  }
  return undefined;
}

function valueAt(root: unknown, path: string[]): unknown {
  let node = root;
  for (const key of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

function primitiveText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

/** `=?base64?…?=` carries UTF-8 as canonical Base64; anything else is the literal value. */
function decode(value: string): string | undefined {
  if (!value.startsWith(BASE64_OPEN) || !value.endsWith(BASE64_CLOSE)) return value;
  const payload = value.slice(BASE64_OPEN.length, value.length - BASE64_CLOSE.length);
  if (!BASE64.test(payload)) return undefined;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(payload, 'base64'));
  } catch {
    return undefined;
  }
}
