/**
 * SEP-2243 (2026-07-28 transports, "Custom headers from tool parameters"): the gateway's check
 * of Mcp-Param-* headers against a tool's x-mcp-header arguments (gateway/src/mcp/param-headers.ts).
 */
import type { Tool } from '@modelcontextprotocol/server';
import { describe, expect, it } from 'vitest';
import { declarations, paramHeaderMismatch } from '../../gateway/src/mcp/param-headers.ts';

const tool = (properties: Record<string, unknown>): Tool => ({
  name: 'route',
  inputSchema: { type: 'object', properties } as Tool['inputSchema'],
});

const region = tool({
  region: { type: 'string', 'x-mcp-header': 'Region' },
  count: { type: 'integer', 'x-mcp-header': 'Count' },
  nested: { type: 'object', properties: { flag: { type: 'boolean', 'x-mcp-header': 'Flag' } } },
});

const b64 = (text: string) => `=?base64?${Buffer.from(text, 'utf8').toString('base64')}?=`;

describe('Mcp-Param-* header validation (SEP-2243)', () => {
  it('finds declarations along properties chains, headers matched case-insensitively', () => {
    expect(declarations(region).map((d) => [d.name, d.path.join('.')])).toEqual([
      ['Region', 'region'],
      ['Count', 'count'],
      ['Flag', 'nested.flag'],
    ]);
  });

  it('accepts matching literal and Base64 values, and numbers compared numerically', () => {
    const found = declarations(region);
    const args = { region: 'eu-west', count: 42, nested: { flag: true } };
    expect(
      paramHeaderMismatch(found, args, {
        'mcp-param-region': 'eu-west',
        'mcp-param-count': '42.0',
        'mcp-param-flag': 'true',
      }),
    ).toBeUndefined();
    expect(
      paramHeaderMismatch(found, { region: 'Zürich' }, { 'mcp-param-region': b64('Zürich') }),
    ).toBeUndefined();
  });

  it('rejects a missing header, a different value and broken Base64', () => {
    const found = declarations(region);
    expect(paramHeaderMismatch(found, { region: 'eu' }, {})?.message).toMatch(
      /Mcp-Param-Region header is absent/,
    );
    expect(
      paramHeaderMismatch(found, { region: 'eu' }, { 'mcp-param-region': 'us' })?.message,
    ).toMatch(/is "us" but the body carries region="eu"/);
    expect(
      paramHeaderMismatch(found, { region: 'eu' }, { 'mcp-param-region': '=?base64?ZXU?=' })
        ?.message,
    ).toMatch(/invalid Base64/);
  });

  it('expects no header for an absent or null body value (a stray header is ignored)', () => {
    const found = declarations(region);
    expect(paramHeaderMismatch(found, { region: null }, {})).toBeUndefined();
    expect(paramHeaderMismatch(found, {}, { 'mcp-param-count': '7' })).toBeUndefined();
  });

  it('checks nothing for a malformed declaration: conforming clients drop such a tool', () => {
    expect(declarations(tool({ list: { type: 'array', 'x-mcp-header': 'List' } }))).toEqual([]);
    expect(declarations(tool({ a: { type: 'string', 'x-mcp-header': 'has space' } }))).toEqual([]);
    expect(
      declarations(
        tool({
          a: { type: 'string', 'x-mcp-header': 'Same' },
          b: { type: 'string', 'x-mcp-header': 'same' },
        }),
      ),
    ).toEqual([]);
  });
});
