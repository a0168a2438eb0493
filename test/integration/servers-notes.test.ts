import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Client, ProtocolError } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import * as z from 'zod';
import { manifestTransport } from '../helpers/server-transport.ts';

const SERVER_DIR = fileURLToPath(new URL('../../servers/notes/', import.meta.url));

const StdioManifest = z.object({
  server: z.object({
    transport: z.literal('stdio'),
    command: z.string(),
    args: z.array(z.string()).default([]),
  }),
});
const { server } = StdioManifest.parse(
  parse(readFileSync(path.join(SERVER_DIR, 'switchboard.yaml'), 'utf8')),
);

function gatewayEnv(settings: Record<string, string>): Record<string, string> {
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...settings };
}

function notesTransport(settings: Record<string, string>) {
  return manifestTransport(SERVER_DIR, server, settings);
}

const TextBlock = z.object({ type: z.literal('text'), text: z.string() });
const firstText = (content: unknown) =>
  TextBlock.parse(z.array(z.unknown()).parse(content)[0]).text;

describe('servers/notes (hand-written Python) with the SDK client', () => {
  let notesDir: string;
  let client: Client;

  beforeAll(async () => {
    notesDir = path.join(mkdtempSync(path.join(tmpdir(), 'notes-')), 'nested', 'data');
    client = new Client({ name: 'servers-notes-test', version: '0.0.0' });
    const started = performance.now();
    await client.connect(notesTransport({ NOTES_DIR: notesDir }));
    await client.listTools();
    console.log(
      `notes cold spawn → first tools/list: ${(performance.now() - started).toFixed(0)} ms`,
    );
  });

  afterAll(async () => {
    await client?.close();
    rmSync(path.dirname(path.dirname(notesDir)), { recursive: true, force: true });
  });

  it('negotiates 2025-11-25 and lists its two tools', async () => {
    expect(client.getNegotiatedProtocolVersion()).toBe('2025-11-25');
    expect(client.getServerVersion()).toEqual({ name: 'notes', version: '0.1.0' });
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toEqual(['add_note', 'search_notes']);
    await expect(client.ping()).resolves.toEqual({});
  });

  it('add_note then search_notes finds it, case-insensitively, in title or body', async () => {
    const added = await client.callTool({
      name: 'add_note',
      arguments: { title: 'Groceries', body: 'Oat milk and COFFEE beans' },
    });
    const { id } = z.object({ id: z.string() }).parse(added.structuredContent);
    await client.callTool({
      name: 'add_note',
      arguments: { title: 'Standup', body: 'demo the gateway' },
    });

    const found = await client.callTool({ name: 'search_notes', arguments: { query: 'coffee' } });
    expect(found.isError).toBe(false);
    expect(found.structuredContent).toEqual({
      notes: [{ id, title: 'Groceries', body: 'Oat milk and COFFEE beans' }],
    });
    expect(firstText(found.content)).toContain(`${id}: Groceries`);

    const byTitle = await client.callTool({
      name: 'search_notes',
      arguments: { query: 'STANDUP' },
    });
    expect(
      z.object({ notes: z.array(z.unknown()) }).parse(byTitle.structuredContent).notes,
    ).toHaveLength(1);
    const none = await client.callTool({ name: 'search_notes', arguments: { query: 'absent' } });
    expect(none.structuredContent).toEqual({ notes: [] });

    // Stored in NOTES_DIR (created on start, including missing parents).
    const stored = JSON.parse(readFileSync(path.join(notesDir, 'notes.json'), 'utf8'));
    expect(stored).toHaveLength(2);
  });

  it('reports bad arguments as isError results', async () => {
    const missing = await client.callTool({ name: 'add_note', arguments: { title: 'no body' } });
    expect(missing.isError).toBe(true);
    expect(firstText(missing.content)).toMatch(/'body' must be a string/);
    const empty = await client.callTool({ name: 'search_notes', arguments: { query: '  ' } });
    expect(empty.isError).toBe(true);
  });

  it('answers an unknown tool with JSON-RPC -32602', async () => {
    const call = client.callTool({ name: 'delete_everything', arguments: {} });
    await expect(call).rejects.toBeInstanceOf(ProtocolError);
    await expect(call).rejects.toMatchObject({ code: -32602 });
  });

  it('answers -32603 for a corrupt notes file and keeps serving', async () => {
    const file = path.join(notesDir, 'notes.json');
    const saved = readFileSync(file, 'utf8');
    writeFileSync(file, '{ not json');
    const call = client.callTool({ name: 'search_notes', arguments: { query: 'x' } });
    await expect(call).rejects.toMatchObject({ code: -32603 });
    writeFileSync(file, saved);
    const found = await client.callTool({
      name: 'search_notes',
      arguments: { query: 'Groceries' },
    });
    expect(firstText(found.content)).toContain('Groceries');
  });
});

describe('servers/notes with a version-negotiating client', () => {
  it('falls back from the server/discover probe to the 2025 handshake', async () => {
    const notesDir = mkdtempSync(path.join(tmpdir(), 'notes-auto-'));
    const client = new Client(
      { name: 'servers-notes-auto', version: '0.0.0' },
      { versionNegotiation: { mode: 'auto' } },
    );
    try {
      await client.connect(notesTransport({ NOTES_DIR: notesDir }));
      expect(client.getNegotiatedProtocolVersion()).toBe('2025-11-25');
      expect((await client.listTools()).tools).toHaveLength(2);
    } finally {
      await client.close();
      rmSync(notesDir, { recursive: true, force: true });
    }
  });
});

describe('servers/notes on the raw wire', () => {
  it('falls back to its latest version, answers -32601, and writes only JSON to stdout', async () => {
    const notesDir = mkdtempSync(path.join(tmpdir(), 'notes-raw-'));
    const child = spawn(server.command, server.args, {
      cwd: SERVER_DIR,
      env: gatewayEnv({ NOTES_DIR: notesDir }),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const ask = async (message: unknown) => {
      child.stdin.write(`${JSON.stringify(message)}\n`);
      const next = await lines.next();
      return JSON.parse(String(next.value));
    };
    try {
      const init = await ask({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: {
          protocolVersion: '2099-01-01',
          capabilities: {},
          clientInfo: { name: 'raw', version: '0' },
        },
      });
      expect(init.result.protocolVersion).toBe('2025-11-25');
      const older = await ask({
        jsonrpc: '2.0',
        id: 2,
        method: 'initialize',
        params: {
          protocolVersion: '2025-03-26',
          capabilities: {},
          clientInfo: { name: 'raw', version: '0' },
        },
      });
      expect(older.result.protocolVersion).toBe('2025-03-26');
      child.stdin.write(
        `${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' })}\n`,
      );
      expect(await ask({ jsonrpc: '2.0', id: 3, method: 'resources/list' })).toEqual({
        jsonrpc: '2.0',
        id: 3,
        error: { code: -32601, message: 'Method not found: resources/list' },
      });
      expect(await ask({ jsonrpc: '2.0', id: 'p', method: 'ping' })).toEqual({
        jsonrpc: '2.0',
        id: 'p',
        result: {},
      });
      expect((await ask({ not: 'json-rpc' })).error.code).toBe(-32600);
    } finally {
      child.stdin.end();
      await new Promise((resolve) => child.once('exit', resolve));
      rmSync(notesDir, { recursive: true, force: true });
    }
    expect(child.exitCode).toBe(0);
  });
});
