import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Tool } from '@modelcontextprotocol/client';
import { REPO_ROOT } from './gateway.ts';

const SERVER = path.join(REPO_ROOT, 'test/fixtures/mcp-servers/pinning-server.ts');
/** By URL: the integration folders live in a temp dir, where `--import tsx` would not resolve. */
const TSX = import.meta.resolve('tsx');

/** `count` tools tool_00…, each with a description and a one-property schema. */
export function numberedTools(count: number, prefix = 'tool'): Tool[] {
  return Array.from({ length: count }, (_, n) => ({
    name: `${prefix}_${String(n).padStart(2, '0')}`,
    description: `Tool number ${n}.\nReads the record it is given.`,
    inputSchema: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
    annotations: { readOnlyHint: true, destructiveHint: false },
  }));
}

/**
 * A temp INTEGRATION_DIRS root with one folder per integration, each running pinning-server.ts
 * on its own definitions file, and a policy file enabling them with the given `toolPinning`.
 */
export function pinningRoot(integrations: Record<string, { toolPinning?: string; tools: Tool[] }>) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-pinning-'));
  const policy = ['apiVersion: switchboard/policy/v1', 'integrations:'];
  for (const [name, spec] of Object.entries(integrations)) {
    const dir = path.join(root, name);
    fs.mkdirSync(dir);
    const defs = path.join(root, `${name}.defs.json`);
    fs.writeFileSync(defs, JSON.stringify(spec.tools));
    fs.writeFileSync(
      path.join(dir, 'switchboard.yaml'),
      [
        'apiVersion: switchboard/v1',
        `name: ${name}`,
        'version: 0.1.0',
        'description: Tool definitions read from a file the test rewrites',
        'server:',
        '  transport: stdio',
        '  command: node',
        `  args: ${JSON.stringify(['--import', TSX, SERVER, defs])}`,
        '',
      ].join('\n'),
    );
    policy.push(
      `  ${name}: { enabled: true${spec.toolPinning ? `, toolPinning: ${spec.toolPinning}` : ''} }`,
    );
  }
  const policyPath = path.join(root, 'policy.yaml');
  fs.writeFileSync(policyPath, `${policy.join('\n')}\n`);
  return {
    root,
    policyPath,
    /** Rewrites an integration's definitions (read at its next start or `refresh`). */
    write(name: string, tools: Tool[]) {
      fs.writeFileSync(path.join(root, `${name}.defs.json`), JSON.stringify(tools));
    },
    cleanup() {
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}
