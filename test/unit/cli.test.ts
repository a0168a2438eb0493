import { describe, expect, it } from 'vitest';
import { runCli } from '../../gateway/src/cli/main.ts';

async function cli(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, {
    env: { SWITCHBOARD_DATA_DIR: '/nonexistent/never-opened' },
    out: (t) => out.push(t),
    err: (t) => err.push(t),
  });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('switchboard CLI usage', () => {
  it('prints the command list for --help and exits 0', async () => {
    const r = await cli('--help');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/Usage: switchboard <command>[\s\S]*start[\s\S]*migrate[\s\S]*keys/);
  });

  it.each([['start'], ['migrate'], ['keys']])(
    '%s --help prints its usage and exits 0',
    async (name) => {
      const r = await cli(name, '--help');
      expect(r.code).toBe(0);
      expect(r.out).toContain(`switchboard ${name}`);
    },
  );

  it.each([
    [[], 'missing command'],
    [['launch'], 'unknown command "launch"'],
    [['start', '--port', '1'], "Unknown option '--port'"],
    [['migrate', 'now'], 'unexpected argument "now"'],
    [['keys'], 'missing subcommand'],
    [['keys', 'rotate'], 'unknown subcommand "rotate"'],
    [['keys', 'create', '--scopes', 'keys:read'], 'missing --name'],
    [['keys', 'create', '--name', 'ci'], 'missing --scopes'],
    [
      ['keys', 'create', '--name', 'ci', '--scopes', 'keys:read,tasks:delete'],
      'unknown scope "tasks:delete"',
    ],
    [['keys', 'revoke'], 'missing argument'],
  ])('%j is a usage error: exit 2 with the usage', async (argv, message) => {
    const r = await cli(...argv);
    expect(r.code).toBe(2);
    expect(r.err).toContain(message);
    expect(r.err).toContain('Usage:');
    expect(r.out).toBe('');
  });
});
