import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { parse } from 'yaml';
import * as z from 'zod';
import { manifestTransport } from './server-transport.ts';

/** servers/fixture started as its manifest says, and readers of its tools' content blocks. */

const SERVER_DIR = fileURLToPath(new URL('../../servers/fixture/', import.meta.url));

const StdioManifest = z.object({
  server: z.object({
    transport: z.literal('stdio'),
    command: z.string(),
    args: z.array(z.string()).default([]),
  }),
});

export function fixtureTransport(): StdioClientTransport {
  const raw = parse(readFileSync(path.join(SERVER_DIR, 'switchboard.yaml'), 'utf8'));
  return manifestTransport(SERVER_DIR, StdioManifest.parse(raw).server);
}

const TextBlock = z.object({ type: z.literal('text'), text: z.string() });

const MediaBlock = z.object({ type: z.string(), data: z.string(), mimeType: z.string() });

export function firstText(content: unknown): string {
  return TextBlock.parse(z.array(z.unknown()).min(1).parse(content)[0]).text;
}

export function firstMedia(content: unknown): z.infer<typeof MediaBlock> & { bytes: Buffer } {
  const block = MediaBlock.parse(z.array(z.unknown()).min(1).parse(content)[0]);
  return { ...block, bytes: Buffer.from(block.data, 'base64') };
}
